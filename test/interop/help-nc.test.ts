// Issue #20: the nc pipelines the help texts show end by themselves with Debian's nc (OpenBSD
// netcat), which keeps a connection open after its input ends unless told -N (or -d to not read).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { runLab, runProcess, startServer } from "../helpers/lab.js";

describe("#20 help examples with nc", () => {
  it("#20: lab server --help's 'echo hello | nc -N' pipeline prints HELLO and ends", async () => {
    const help = (await runLab(["server", "--help"])).stdout;
    expect(help).toContain(
      "lab server --mode upper --port 9000      then: echo hello | nc -N 127.0.0.1 9000",
    );
    const { port } = await startServer(
      (p) => ["server", "--mode", "upper", "--port", String(p)],
      (p) => `listening on 127.0.0.1:${p}`,
    );
    const r = await runProcess("bash", ["-c", `echo hello | nc -N 127.0.0.1 ${port}`], { timeoutMs: 10_000 });
    expect(r).toMatchObject({ code: 0, stdout: "HELLO\n" });
  });

  it("#20: lab files --help's 'nc -d … > copy.txt' receives the file and ends", async () => {
    const help = (await runLab(["files", "--help"])).stdout;
    expect(help).toContain("then: nc -d 127.0.0.1 6001 > copy.txt");
    const dir = mkdtempSync(join(tmpdir(), "lab-help-nc-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, "test.txt"), "the classic tutorial's file\n");
    const { port } = await startServer(
      (p) => ["files", "--raw", join(dir, "test.txt"), "--port", String(p)],
      (p) => `127.0.0.1:${p}`,
    );
    const r = await runProcess("bash", ["-c", `nc -d 127.0.0.1 ${port} > copy.txt`], {
      cwd: dir,
      timeoutMs: 10_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(dir, "copy.txt"), "utf8")).toBe("the classic tutorial's file\n");
  });
});
