import { describe, expect, it, onTestFinished } from "vitest";
import { createTlsChatFactory } from "../src/chat-factory.js";
import { LabController } from "../src/controller.js";
import type { WireChunk } from "../src/model.js";
import { paneLines, waitFor } from "../src/player.js";
import { chunkShapes, wireRows } from "../src/wire.js";

describe("lab demo --tls: the chat scene over TLS", () => {
  it("panes show the plaintext while the wire carries only TLS records (ciphertext)", async () => {
    const lab = new LabController(await createTlsChatFactory(), { clients: 2, statsIntervalMs: 100 });
    onTestFinished(() => lab.close());
    await lab.start();
    const ready = await waitFor(
      lab,
      (s) => s.clients.every((c) => c.state === "connected" && c.room),
      10_000,
    );
    expect(ready, JSON.stringify(lab.getSnapshot().clients)).toBe(true);
    const secret = "the plaintext only the panes may show";
    lab.send(1, secret);
    const delivered = await waitFor(lab, (s) => paneLines(s, 2).some((l) => l.text.includes(secret)), 5_000);
    expect(delivered).toBe(true);
    const { wire } = lab.wireOf(1);
    expect(wire.length).toBeGreaterThan(2);
    expect(wire.every((c) => c.tls === true)).toBe(true);
    // Records start with their content type: 0x16 handshake first, then 0x17 application data.
    expect(wire[0]).toMatchObject({ direction: "out" });
    expect(wire[0]!.bytes[0]).toBe(0x16);
    expect(wire.some((c) => c.bytes[0] === 0x17)).toBe(true);
    const all = Buffer.concat(wire.map((c) => c.bytes));
    expect(all.includes(Buffer.from(secret))).toBe(false);
    expect(all.includes(Buffer.from("alice"))).toBe(false);
  });
});

describe("wireRows for TLS chunks", () => {
  const record: WireChunk = {
    direction: "out",
    bytes: Uint8Array.from([0x17, 3, 3, 0, 0x0a, 0xff]),
    at: 0,
    tls: true,
  };

  it("shows the bytes as hex and counts no messages in them", () => {
    const rows = wireRows([record], 80).map((r) => r.map((s) => s.text).join(""));
    expect(rows).toEqual(["→ 6 B     17 03 03 00 0a ff┃ TLS, encrypted"]);
    expect(chunkShapes([record])[0]).toEqual({
      messagesEnded: 0,
      startsMidMessage: false,
      endsMidMessage: false,
    });
  });
});
