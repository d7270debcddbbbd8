import { cleanup, render } from "ink-testing-library";
import { afterEach, describe, expect, it, onTestFinished, vi } from "vitest";
import { ProxyLabController } from "../src/proxy/controller.js";
import type { ProxyControls, ProxySnapshot } from "../src/proxy/model.js";
import { ProxyApp } from "../src/proxy/ProxyApp.js";
import { PLAIN_THEME, ThemeContext } from "../src/theme.js";
import { lines } from "./fixtures.js";

afterEach(() => cleanup());

function waitForLab(lab: ProxyLabController, check: (s: ProxySnapshot) => boolean, what: string) {
  return vi.waitFor(
    () => {
      if (!check(lab.getSnapshot()))
        throw new Error(`waiting for ${what}: ${JSON.stringify(lab.getSnapshot().clients)}`);
    },
    { timeout: 8000, interval: 20 },
  );
}

const texts = (l: readonly { text: string }[]) => l.map((x) => x.text);

describe("ProxyLabController over real sockets", () => {
  it("shows each chunk out of the proxy and the receiver's reads, and slices live", {
    timeout: 20_000,
  }, async () => {
    const lab = new ProxyLabController({ intervalMs: 150, frameMs: 50 });
    onTestFinished(() => lab.close());
    await lab.start();
    await waitForLab(
      lab,
      (s) => s.clients.every((c) => c.chunks.length > 0 && c.reads.length > 0),
      "both lanes",
    );
    const down = () => lab.getSnapshot().clients[1]!;
    expect(texts(down().chunks).at(-1)).toMatch(/^\d+\.\d{3}s \d+ B held \d+\.\d ms$/);
    expect(texts(down().reads).join("\n")).toMatch(/read \d+ B "hello \d+\\n/);

    await lab.toggleToxic("slicer");
    expect(lab.getSnapshot().server.toxics).toEqual(["slicer"]);
    await waitForLab(
      lab,
      (s) => texts(s.clients[1]!.chunks).some((t) => t.endsWith("[slicer_down]")),
      "slices",
    );
    await waitForLab(
      lab,
      (s) => texts(s.clients[1]!.reads).some((t) => / read [1-5] B /.test(t)),
      "small reads",
    );
    await lab.toggleToxic("slicer");
    expect(lab.getSnapshot().server.toxics).toEqual([]);
  });

  it("puts exposure's warning for the address the proxy bound in its log and title; its echo server stays on loopback", async () => {
    const hosts: string[] = [];
    const lab = new ProxyLabController({
      host: "::1",
      exposure: (host) => {
        hosts.push(host);
        return `${host} is reachable`;
      },
    });
    onTestFinished(() => lab.close());
    await lab.start();
    expect(hosts).toEqual(["::1"]);
    const log = lab.getSnapshot().server.log;
    const at = log.findIndex((l) => l.text.startsWith("proxying "));
    expect(log[at]?.text).toMatch(/^proxying \[::1\]:\d+ → \[::1\]:\d+ \(echo\)$/);
    expect(log[at + 1]).toMatchObject({ kind: "warn", text: "warning: ::1 is reachable" });
    expect(lab.getSnapshot().server.exposure).toBe("::1 is reachable");
  });

  it("resets the client with reset_peer, and the client reconnects", { timeout: 20_000 }, async () => {
    const lab = new ProxyLabController({ intervalMs: 100, frameMs: 50 });
    onTestFinished(() => lab.close());
    await lab.start();
    await waitForLab(
      lab,
      (s) => s.server.connections === 1 && s.clients[1]!.reads.length > 0,
      "a connection",
    );
    await lab.toggleToxic("reset_peer");
    await waitForLab(
      lab,
      (s) => texts(s.clients[1]!.reads).some((t) => t.endsWith("ECONNRESET")),
      "the reset",
    );
    await lab.toggleToxic("reset_peer");
    await waitForLab(lab, (s) => s.server.connections >= 2, "a reconnect");
  });
});

function recordingLab() {
  const calls: unknown[][] = [];
  const snapshot: ProxySnapshot = {
    scene: "proxy",
    server: {
      host: "127.0.0.1",
      port: 41000,
      status: "listening",
      upstreamPort: 41001,
      toxics: ["latency"],
      connections: 1,
      log: lines("proxying 127.0.0.1:41000 → 127.0.0.1:41001 (echo)"),
    },
    clients: [
      {
        id: 1,
        direction: "upstream",
        chunks: lines("1.000s 22 B held 300.1 ms  [latency_up]"),
        reads: lines('1.301s read 22 B "hello 1\\nhow are you?\\n"'),
        bytes: 22,
      },
      {
        id: 2,
        direction: "downstream",
        chunks: lines("1.302s 22 B held 300.0 ms  [latency_down]"),
        reads: lines('1.603s read 22 B "hello 1\\nhow are you?\\n"'),
        bytes: 22,
      },
    ],
  };
  const lab: ProxyControls & { calls: unknown[][] } = {
    calls,
    toggleToxic: async (t) => void calls.push(["toggleToxic", t]),
    restartServer: async () => void calls.push(["restartServer"]),
    close: async () => void calls.push(["close"]),
    subscribe: () => () => {},
    getSnapshot: () => snapshot,
  };
  return lab;
}

describe("ProxyApp", () => {
  it("draws two lanes with chunks beside reads, the proxy below, and the toxic keys", () => {
    const ui = render(
      <ThemeContext.Provider value={PLAIN_THEME}>
        <ProxyApp lab={recordingLab()} />
      </ThemeContext.Provider>,
    );
    const f = ui.lastFrame() ?? "";
    expect(f).toContain("client → server");
    expect(f).toContain("server → client");
    expect(f).toContain("22 B held");
    expect(f).toContain("300.1 ms"); // #20: a number and its unit stay on one row
    expect(f).toContain("read 22 B");
    expect(f).toContain("lab proxy 127.0.0.1:41000");
    expect(f).toMatch(/l latency/);
  });

  it("toggles a toxic with its key", async () => {
    const lab = recordingLab();
    const ui = render(
      <ThemeContext.Provider value={PLAIN_THEME}>
        <ProxyApp lab={lab} />
      </ThemeContext.Provider>,
    );
    ui.stdin.write("s");
    await vi.waitFor(() => expect(lab.calls).toContainEqual(["toggleToxic", "slicer"]));
  });
});
