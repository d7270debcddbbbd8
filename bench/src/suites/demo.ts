import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Suite } from "../types.js";
import { fmt, hasCommand, median, nowMs } from "../util.js";

const LAB_BIN = fileURLToPath(new URL("../../../apps/cli/dist/bin.js", import.meta.url));
/** @netlab/tui's loader, which says whether `lab demo` will load the one-file bundle. */
const TUI_LOAD = new URL("../../../apps/tui/dist/load.js", import.meta.url);
const COLUMNS = 120;
const ROWS = 40;
/** Longest a single start may take before the run counts as failed, in ms. */
const START_TIMEOUT_MS = 15_000;

const ANSI =
  /\u001b\[[0-9;?<>=]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[()][0-9A-Za-z]|\u001b[=>78DEHM]/g;

/**
 * Whether the newest frame in `text` (ANSI stripped) is a full one: Ink writes every frame whole,
 * starting with the title, so the text after the last title is the frame on screen. Full means the
 * server pane says listening, every client pane says connected, and the legend is drawn.
 */
export function isFullFrame(text: string, clients: number): boolean {
  const at = text.lastIndexOf("netlab demo");
  if (at < 0) return false;
  const frame = text.slice(at);
  const connected = frame.split("● connected").length - 1;
  return frame.includes("● listening") && connected >= clients && frame.includes("^C quit");
}

/** A tiny program doing the demo's socket work without Ink/React: a server, N clients, one line of output. */
const RAW_NODE = `
const net = require("node:net");
const n = Number(process.argv[1]);
const server = net.createServer((s) => s.on("error", () => {}));
server.listen(0, "127.0.0.1", () => {
  const sockets = [];
  let ready = 0;
  for (let i = 0; i < n; i++) {
    const s = net.connect(server.address().port, "127.0.0.1", () => {
      if (++ready === n) process.stdout.write("raw frame: listening, " + n + " connected\\n");
    });
    sockets.push(s);
  }
  process.stdin.setRawMode(true);
  process.stdin.once("data", () => {
    for (const s of sockets) s.destroy();
    server.close();
    process.stdin.pause();
  });
});`;

interface PtyRun {
  /** Spawn to the first full frame, ms. */
  readyMs: number;
  /** Spawn to the first frame of any kind (the title drawn), ms; readyMs for the baselines. */
  firstMs: number;
  /** Ctrl-C to the process gone, ms. */
  quitMs: number;
}

/**
 * Runs `argv` in a pseudo-terminal (util-linux `script`) of COLUMNS×ROWS, waits until `isReady` holds
 * for the output so far, then types Ctrl-C and waits for the exit.
 */
function runInPty(
  argv: string[],
  isReady: ((text: string) => boolean) | "exit",
  env: NodeJS.ProcessEnv = {},
): Promise<PtyRun> {
  const quoted = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
  const command = `stty cols ${COLUMNS} rows ${ROWS} 2>/dev/null; exec ${quoted}`;
  return new Promise((resolve, reject) => {
    const start = nowMs();
    const child = spawn("script", ["-qfec", command, "/dev/null"], {
      env: { ...process.env, TERM: "xterm-256color", CI: "", NO_COLOR: "", ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let text = "";
    let readyMs: number | undefined;
    let firstMs: number | undefined;
    let quitAt = 0;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`no full frame within ${START_TIMEOUT_MS} ms; output:\n${text.slice(-2000)}`));
    }, START_TIMEOUT_MS);
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      text += d.replace(ANSI, "");
      if (firstMs === undefined && text.includes("netlab demo")) firstMs = nowMs() - start;
      if (readyMs === undefined && isReady !== "exit" && isReady(text)) {
        readyMs = nowMs() - start;
        quitAt = nowMs();
        child.stdin.write("\u0003");
      }
    });
    child.stdin.on("error", () => {});
    child.on("exit", () => {
      clearTimeout(timer);
      if (readyMs === undefined && isReady === "exit") {
        const ms = nowMs() - start;
        resolve({ readyMs: ms, firstMs: ms, quitMs: 0 });
      } else if (readyMs === undefined)
        reject(new Error(`exited before a full frame; output:\n${text.slice(-2000)}`));
      else resolve({ readyMs, firstMs: firstMs ?? readyMs, quitMs: nowMs() - quitAt });
    });
  });
}

/** `lab demo`: time from spawn to the first full frame, against node and raw sockets in the same terminal. */
export const demoSuite: Suite = {
  name: "demo",
  description: "lab demo: spawn to first full frame in a pseudo-terminal, against node -e 0 and raw net",
  async run(ctx) {
    if (!hasCommand("script")) {
      ctx.log("skipped: needs util-linux `script` for a pseudo-terminal");
      return [];
    }
    const runs = Math.max(3, Math.round(10 * ctx.scale));
    const { bundleState } = (await import(TUI_LOAD.href)) as { bundleState: () => string };
    const bundle = bundleState();
    if (bundle !== "fresh") {
      ctx.log(
        `warning: the TUI bundle is ${bundle}, so lab demo loads the modules (pnpm --filter @netlab/tui build)`,
      );
    }
    const cases: Record<string, () => Promise<PtyRun>> = {
      "node -e 0 (spawn to exit)": () => runInPty([process.execPath, "-e", "0"], "exit"),
      "raw net: server + 3 sockets, one line": () =>
        runInPty([process.execPath, "-e", RAW_NODE, "3"], (t) =>
          t.includes("raw frame: listening, 3 connected"),
        ),
      "lab demo --clients 3": () => runInPty([LAB_BIN, "demo", "--clients", "3"], (t) => isFullFrame(t, 3)),
      "lab demo --clients 6": () => runInPty([LAB_BIN, "demo", "--clients", "6"], (t) => isFullFrame(t, 6)),
      "lab demo --clients 3, unbundled (NETLAB_TUI_BUNDLE=0)": () =>
        runInPty([LAB_BIN, "demo", "--clients", "3"], (t) => isFullFrame(t, 3), { NETLAB_TUI_BUNDLE: "0" }),
    };
    const ready: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
    const quit: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
    const first: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
    // Interleaved, so machine noise hits every case alike.
    for (let i = 0; i < runs; i++) {
      for (const [name, run] of Object.entries(cases)) {
        const r = await run();
        ready[name]!.push(r.readyMs);
        quit[name]!.push(r.quitMs);
        first[name]!.push(r.firstMs);
      }
      ctx.log(`run ${i + 1}/${runs}`);
    }
    const bundleAfter = bundleState();
    if (bundleAfter !== bundle)
      ctx.log(`warning: the TUI bundle went from ${bundle} to ${bundleAfter} during the run`);
    const node = median(ready["node -e 0 (spawn to exit)"]!);
    const raw = median(ready["raw net: server + 3 sockets, one line"]!);
    return [
      {
        title: `lab demo start-up in a ${COLUMNS}×${ROWS} pseudo-terminal (median)`,
        columns: [
          "case",
          "to first full frame ms",
          "× node -e 0",
          "× raw net",
          "to first frame ms",
          "Ctrl-C to exit ms",
        ],
        rows: Object.keys(cases).map((name) => {
          const m = median(ready[name]!);
          const q = name.startsWith("node -e") ? "–" : fmt(median(quit[name]!), 0);
          const f = name.startsWith("lab demo") ? fmt(median(first[name]!), 0) : "–";
          return [name, fmt(m, 0), `${(m / node).toFixed(2)}×`, `${(m / raw).toFixed(2)}×`, f, q];
        }),
        notes: [
          `${runs} runs each, interleaved, each under util-linux \`script\` (a real pty). TUI bundle: ${bundle === bundleAfter ? bundle : `${bundle}, then ${bundleAfter}`}.`,
          "First full frame: the first frame Ink writes in which the server pane says listening, every client pane says connected, and the key legend is drawn (ANSI stripped; Ink writes each frame whole). First frame: the first one of any kind (the title line).",
          "Baselines: `node -e 0` (spawn to exit in the same pty) and a raw-net program that opens a server and 3 sockets and prints one line. Target: lab demo under 1 s.",
          "`lab demo` loads @netlab/tui from its esbuild bundle (apps/tui/dist/bundle/) when that is up to date; the unbundled row loads the ~800 modules `tsc` built instead, as before the bundle (it keeps the other start-up change: the first frame waits for the sockets). Why and how: docs/demo.md, Start-up.",
        ],
      },
    ];
  },
};
