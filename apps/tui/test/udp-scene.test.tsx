import dgram from "node:dgram";
import { cleanup, render } from "ink-testing-library";
import { afterEach, describe, expect, it, onTestFinished, vi } from "vitest";
import { PLAIN_THEME, ThemeContext } from "../src/theme.js";
import { UdpLabController } from "../src/udp/controller.js";
import type { PingerView, UdpControls, UdpSnapshot } from "../src/udp/model.js";
import { rttStrip, UdpApp } from "../src/udp/UdpApp.js";
import { lines } from "./fixtures.js";

afterEach(() => cleanup());

function waitForLab(
  lab: UdpLabController,
  check: (s: UdpSnapshot) => boolean,
  what: string,
  timeoutMs = 5000,
) {
  return vi.waitFor(
    () => {
      if (!check(lab.getSnapshot()))
        throw new Error(
          `waiting for ${what}: ${JSON.stringify(lab.getSnapshot().clients.map((c) => [c.transmitted, c.received]))}`,
        );
    },
    { timeout: timeoutMs, interval: 20 },
  );
}

function canBindUdp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket("udp4");
    socket.once("error", () => resolve(false));
    socket.bind(port, "127.0.0.1", () => socket.close(() => resolve(true)));
  });
}

describe("UdpLabController over real UDP sockets", () => {
  it("echoes every pinger's probes and reports RTTs", async () => {
    const lab = new UdpLabController({ pingers: 2, lossRate: 0, delayMs: 5, intervalMs: 20, timeoutMs: 500 });
    onTestFinished(() => lab.close());
    await lab.start();
    await waitForLab(lab, (s) => s.clients.every((c) => c.received >= 3), "replies");
    const p = lab.getSnapshot().clients[0]!;
    expect(p.state).toBe("running");
    expect(p.rtt?.minMs).toBeGreaterThanOrEqual(4);
    expect(p.recent.every((r) => r !== null)).toBe(true);
    expect(p.log.some((l) => /^seq=\d+ [\d.]+ ms$/.test(l.text))).toBe(true);
  });

  it("shows loss when the emulated network drops everything, on the same port", async () => {
    const lab = new UdpLabController({ pingers: 1, lossRate: 0, delayMs: 0, intervalMs: 20, timeoutMs: 100 });
    onTestFinished(() => lab.close());
    const { port } = await lab.start();
    await waitForLab(lab, (s) => (s.clients[0]?.received ?? 0) >= 2, "first replies");
    await lab.setNetwork({ lossRate: 1 });
    expect(lab.getSnapshot().server).toMatchObject({ port, lossRate: 1, status: "listening" });
    await waitForLab(lab, (s) => s.clients[0]!.recent.slice(-3).every((r) => r === null), "timeouts");
    expect(lab.getSnapshot().clients[0]!.lossPercent).toBeGreaterThan(0);
    expect(lab.getSnapshot().server.log.map((l) => l.text)).toContain(
      `listening on udp 127.0.0.1:${port} · loss 100% · delay 0 ms`,
    );
  });

  it("stops and restarts a pinger, and frees the port on close", async () => {
    const lab = new UdpLabController({ pingers: 1, lossRate: 0, delayMs: 0, intervalMs: 20, timeoutMs: 100 });
    const { port } = await lab.start();
    await waitForLab(lab, (s) => (s.clients[0]?.received ?? 0) >= 1, "a reply");
    await lab.togglePinger(1);
    expect(lab.getSnapshot().clients[0]!.state).toBe("stopped");
    await lab.togglePinger(1);
    await waitForLab(lab, (s) => s.clients[0]!.state === "running", "running again");
    await lab.close();
    expect(lab.getSnapshot().server.status).toBe("stopped");
    expect(await canBindUdp(port)).toBe(true);
  });

  it("puts exposure's warning for the address the echo server bound in its log and title, on each start", async () => {
    const hosts: string[] = [];
    const lab = new UdpLabController({
      pingers: 1,
      exposure: (host) => {
        hosts.push(host);
        return `${host} is reachable`;
      },
    });
    onTestFinished(() => lab.close());
    await lab.start();
    const log = () => lab.getSnapshot().server.log;
    const at = log().findIndex((l) => l.text.startsWith("listening on udp "));
    expect(log()[at + 1]).toMatchObject({ kind: "warn", text: "warning: 127.0.0.1 is reachable" });
    expect(lab.getSnapshot().server.exposure).toBe("127.0.0.1 is reachable");
    await lab.restartServer();
    expect(hosts).toEqual(["127.0.0.1", "127.0.0.1"]);
    expect(log().filter((l) => l.kind === "warn")).toHaveLength(2);
  });
});

function pinger(id: number, patch: Partial<PingerView> = {}): PingerView {
  return {
    id,
    state: "running",
    transmitted: 10,
    received: 9,
    late: 0,
    duplicates: 0,
    lossPercent: 10,
    rtt: { minMs: 20.1, avgMs: 21.5, maxMs: 25, mdevMs: 1 },
    recent: [20, 21, null, 25],
    log: lines("seq=9 21.0 ms"),
    error: undefined,
    ...patch,
  };
}

function recordingUdpLab(n: number) {
  const calls: unknown[][] = [];
  const snapshot: UdpSnapshot = {
    scene: "udp",
    server: {
      host: "127.0.0.1",
      port: 40999,
      status: "listening",
      lossRate: 0.1,
      delayMs: 20,
      datagrams: 30,
      dropped: 3,
      datagramsPerSecond: 15,
      log: lines("listening on udp 127.0.0.1:40999 · loss 10% · delay 20 ms"),
    },
    clients: Array.from({ length: n }, (_, i) => pinger(i + 1)),
  };
  const lab: UdpControls & { calls: unknown[][] } = {
    calls,
    addPinger: async () => {
      calls.push(["addPinger"]);
      return n + 1;
    },
    togglePinger: async (id) => void calls.push(["togglePinger", id]),
    restartServer: async () => void calls.push(["restartServer"]),
    setNetwork: async (change) => void calls.push(["setNetwork", change]),
    close: async () => void calls.push(["close"]),
    subscribe: () => () => {},
    getSnapshot: () => snapshot,
  };
  return lab;
}

describe("UdpApp", () => {
  it("shows each pinger's loss, RTTs and strip, and the echo server's settings and counters", () => {
    const ui = render(
      <ThemeContext.Provider value={PLAIN_THEME}>
        <UdpApp lab={recordingUdpLab(3)} />
      </ThemeContext.Provider>,
    );
    const f = ui.lastFrame() ?? "";
    expect(f).toContain("▶ 1 pinger");
    expect(f).toContain("loss 10.0%");
    expect(f).toContain("loss 10.0%  recv 9/10");
    expect(f).toContain("rtt 20/22/25 ms"); // a narrow pane rounds to whole ms
    expect(f).toContain("▇▇×█");
    expect(f).toContain("udp echo 127.0.0.1:40999");
    expect(f).toContain("loss 10%  delay 20 ms");
    expect(f).toContain("+/- loss");
  });

  it("changes loss and delay with + - < >, and stops the focused pinger with ^D", async () => {
    const lab = recordingUdpLab(2);
    const ui = render(
      <ThemeContext.Provider value={PLAIN_THEME}>
        <UdpApp lab={lab} />
      </ThemeContext.Provider>,
    );
    for (const key of ["+", "-", ">", "<", "\t", "\u0004"]) {
      ui.stdin.write(key);
      await new Promise((r) => setImmediate(r));
    }
    await vi.waitFor(() => expect(lab.calls).toHaveLength(5), { timeout: 5000, interval: 5 });
    expect(lab.calls).toEqual([
      ["setNetwork", { lossRate: 0.15 }],
      ["setNetwork", { lossRate: 0.05 }],
      ["setNetwork", { delayMs: 30 }],
      ["setNetwork", { delayMs: 10 }],
      ["togglePinger", 2],
    ]);
  });
});

describe("rttStrip", () => {
  it("scales bars to the largest RTT in view and marks timeouts", () => {
    expect(rttStrip([10, 20, null, 40], 10)).toBe("▃▅×█");
    expect(rttStrip([10, 20, 30], 2)).toBe("▆█");
    expect(rttStrip([], 5)).toBe("");
  });
});
