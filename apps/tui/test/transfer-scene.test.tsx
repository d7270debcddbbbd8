import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, render } from "ink-testing-library";
import { afterEach, describe, expect, it, onTestFinished, vi } from "vitest";
import { PLAIN_THEME, ThemeContext } from "../src/theme.js";
import { TransferLabController } from "../src/transfer/controller.js";
import type { TransferControls, TransferSnapshot, UploaderView } from "../src/transfer/model.js";
import { progressBar, TransferApp } from "../src/transfer/TransferApp.js";
import { lines } from "./fixtures.js";

afterEach(() => cleanup());

function waitForLab(lab: TransferLabController, check: (s: TransferSnapshot) => boolean, what: string) {
  return vi.waitFor(
    () => {
      if (!check(lab.getSnapshot())) {
        throw new Error(
          `waiting for ${what}: ${JSON.stringify(lab.getSnapshot().clients.map((c) => c.log.map((l) => l.text)))}`,
        );
      }
    },
    { timeout: 10_000, interval: 20 },
  );
}

describe("TransferLabController over real sockets", () => {
  it("uploads a generated file from every uploader, verified, into the server's folder", async () => {
    const lab = new TransferLabController({ clients: 2, fileBytes: 300_000 });
    onTestFinished(() => lab.close());
    await lab.start();
    await waitForLab(lab, (s) => s.clients.every((c) => c.uploads === 1), "two uploads");
    const s = lab.getSnapshot();
    expect(s.server.files).toBe(2);
    expect(s.server.bytesStored).toBe(900_000);
    for (const c of s.clients) {
      const file = join(s.server.root, `uploader${c.id}-1.bin`);
      const sha = createHash("sha256").update(readFileSync(file)).digest("hex");
      const short = `${sha.slice(0, 6)}…${sha.slice(-6)}`;
      expect(c.log.at(-1)?.text).toContain(`sha256 ${short}`);
      expect(
        s.server.log.some((l) => l.text.includes(`uploader${c.id}-1.bin`) && l.text.includes(short)),
      ).toBe(true);
      expect(c).toMatchObject({ state: "idle", bytesDone: 300_000 * c.id, totalBytes: 300_000 * c.id });
    }
  });

  it("uploads again after a server restart, reconnecting a connection the restart closed", async () => {
    const lab = new TransferLabController({ clients: 1, fileBytes: 100_000 });
    onTestFinished(() => lab.close());
    const { port } = await lab.start();
    await waitForLab(lab, (s) => s.clients[0]?.uploads === 1, "the first upload");
    await lab.restartServer();
    expect(lab.getSnapshot().server).toMatchObject({ port, status: "listening" });
    lab.upload(1);
    await waitForLab(lab, (s) => s.clients[0]?.uploads === 2, "the second upload");
    expect(lab.getSnapshot().clients[0]!.state).toBe("idle");
  });

  it("#20: --rate slows every upload to at least size/rate, with progress seen midway", async () => {
    const rate = 256 * 1024;
    const fileBytes = 192 * 1024;
    const lab = new TransferLabController({ clients: 1, fileBytes, rateBytesPerSecond: rate });
    onTestFinished(() => lab.close());
    let sawMidway = false;
    lab.subscribe(() => {
      const c = lab.getSnapshot().clients[0];
      if (c && c.state === "uploading" && c.bytesDone > 0 && c.bytesDone < c.totalBytes) sawMidway = true;
    });
    const started = performance.now();
    await lab.start();
    await waitForLab(lab, (s) => s.clients[0]?.uploads === 1, "the rate-limited upload");
    const seconds = (performance.now() - started) / 1000;
    expect(seconds).toBeGreaterThanOrEqual(fileBytes / rate);
    expect(sawMidway).toBe(true);
    expect(lab.getSnapshot().server.log.map((l) => l.text)).toContain(
      "each uploader sends at most 256.0 KiB/s (--rate)",
    );
    expect(() => new TransferLabController({ rateBytesPerSecond: 0 })).toThrow(RangeError);
  });

  it("puts exposure's warning for the address the file server bound in its log", async () => {
    const lab = new TransferLabController({
      clients: 1,
      fileBytes: 10_000,
      exposure: (host) => `${host} is reachable`,
    });
    onTestFinished(() => lab.close());
    await lab.start();
    const log = lab.getSnapshot().server.log;
    const at = log.findIndex((l) => l.text.startsWith("listening on "));
    expect(log[at + 1]).toMatchObject({ kind: "warn", text: "warning: 127.0.0.1 is reachable" });
  });

  it("removes its temporary folder on close", async () => {
    const lab = new TransferLabController({ clients: 1, fileBytes: 10_000 });
    await lab.start();
    const root = lab.getSnapshot().server.root;
    await waitForLab(lab, (s) => s.clients[0]?.uploads === 1, "an upload");
    expect(existsSync(root)).toBe(true);
    await lab.close();
    expect(existsSync(root)).toBe(false);
    expect(lab.getSnapshot().server.status).toBe("stopped");
  });
});

function uploader(id: number, patch: Partial<UploaderView> = {}): UploaderView {
  return {
    id,
    state: "uploading",
    name: `uploader${id}-1.bin`,
    bytesDone: 5_000_000,
    totalBytes: 10_000_000,
    bytesPerSecond: 50_000_000,
    uploads: 0,
    log: lines(),
    error: undefined,
    ...patch,
  };
}

function recordingTransferLab(n: number) {
  const calls: unknown[][] = [];
  const snapshot: TransferSnapshot = {
    scene: "transfer",
    server: {
      host: "127.0.0.1",
      port: 41234,
      status: "listening",
      root: "/tmp/x/server",
      files: 1,
      bytesStored: 1000,
      log: lines("put uploader1-1.bin 1.0 kB from 127.0.0.1:5 · sha256 abcdef…123456 ✓"),
    },
    clients: Array.from({ length: n }, (_, i) => uploader(i + 1)),
  };
  const lab: TransferControls & { calls: unknown[][] } = {
    calls,
    upload: (id) => void calls.push(["upload", id]),
    addClient: async () => {
      calls.push(["addClient"]);
      return n + 1;
    },
    restartServer: async () => void calls.push(["restartServer"]),
    close: async () => void calls.push(["close"]),
    subscribe: () => () => {},
    getSnapshot: () => snapshot,
  };
  return lab;
}

describe("TransferApp", () => {
  it("shows a progress bar with percent and rate per uploader, and the server's verified files", () => {
    const ui = render(
      <ThemeContext.Provider value={PLAIN_THEME}>
        <TransferApp lab={recordingTransferLab(2)} />
      </ThemeContext.Provider>,
    );
    const f = ui.lastFrame() ?? "";
    expect(f).toContain("▶ 1 uploader");
    expect(f).toMatch(/█+░+ {2}50%/);
    expect(f).toContain("4.8 MiB / 9.5 MiB · 47.7 MiB/s");
    expect(f).toContain("file server 127.0.0.1:41234");
    expect(f).toContain("sha256 abcdef…123456 ✓");
    expect(f).toContain("Enter upload");
  });

  it("starts another upload from the focused uploader on Enter and adds one with ^N", async () => {
    const lab = recordingTransferLab(2);
    const ui = render(
      <ThemeContext.Provider value={PLAIN_THEME}>
        <TransferApp lab={lab} />
      </ThemeContext.Provider>,
    );
    for (const key of ["\t", "\r", "\u000e"]) {
      ui.stdin.write(key);
      await new Promise((r) => setImmediate(r));
    }
    await vi.waitFor(() => expect(lab.calls).toHaveLength(2), { timeout: 5000, interval: 5 });
    expect(lab.calls).toEqual([["upload", 2], ["addClient"]]);
  });
});

describe("progressBar", () => {
  it("fills in proportion and never overflows", () => {
    expect(progressBar(0, 100, 4)).toBe("░░░░");
    expect(progressBar(50, 100, 4)).toBe("██░░");
    expect(progressBar(200, 100, 4)).toBe("████");
    expect(progressBar(1, 0, 3)).toBe("░░░");
  });
});
