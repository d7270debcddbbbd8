import { describe, expect, it } from "vitest";
import { runExample } from "./run-example.js";

describe("chat and transfer examples", () => {
  it("chat-client: alice and bob talk, whisper and part; each sees the conversation in order", async () => {
    const r = await runExample("chat-client");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        "server: listening on 127.0.0.1 (a free port)",
        "--- alice sees",
        "* netlab chat/1 — welcome to netlab, you are alice. /help for commands",
        "* alice joined #lobby",
        "* bob joined #lobby",
        "<alice> hi bob!",
        "<bob> hello alice",
        "* bob waves",
        "-> *bob* psst, this one is just for you",
        "* in #lobby: alice, bob",
        "* bob left #lobby (quit)",
        "--- bob sees",
        "* netlab chat/1 — welcome to netlab, you are bob. /help for commands",
        "* bob joined #lobby",
        "<alice> hi bob!",
        "<bob> hello alice",
        "* bob waves",
        "*alice* psst, this one is just for you",
        "server: 3 room messages, shut down",
        "",
      ].join("\n"),
    );
  });

  it("file-transfer: the upload and the download carry the same bytes and hash, then it cleans up", async () => {
    const r = await runExample("file-transfer");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const hash = "aa4a603ada2df3d3…";
    expect(r.stdout).toBe(
      [
        `local:    report.bin, 3145728 bytes, sha256 ${hash}`,
        "server: sharing a temporary folder on 127.0.0.1 (a free port)",
        `upload:   inbox/report.bin, 3145728 bytes, sha256 ${hash} (checked by the server)`,
        "listing:  inbox/report.bin 3145728 bytes",
        `download: inbox/report.bin, 3145728 bytes, sha256 ${hash} (checked here)`,
        "copy matches the original: yes",
        "server: shut down",
        "temporary folder removed: yes",
        "",
      ].join("\n"),
    );
  });
});
