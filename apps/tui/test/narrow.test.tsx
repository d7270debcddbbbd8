import { cleanup, render } from "ink-testing-library";
import type { ReactElement } from "react";
import { afterEach, describe, expect, it, onTestFinished, vi } from "vitest";
import { chatFactory } from "../src/chat-factory.js";
import { App } from "../src/components/App.js";
import { LabController } from "../src/controller.js";
import type { WireChunk } from "../src/model.js";
import { ProxyLabController } from "../src/proxy/controller.js";
import { ProxyApp } from "../src/proxy/ProxyApp.js";
import { blankPartialTop, fitFields, WRAP_INDENT, wrapText } from "../src/text.js";
import { PLAIN_THEME, ThemeContext } from "../src/theme.js";
import { TransferLabController } from "../src/transfer/controller.js";
import { TransferApp } from "../src/transfer/TransferApp.js";
import { UdpLabController } from "../src/udp/controller.js";
import { UdpApp } from "../src/udp/UdpApp.js";
import { client, KEYS, recordingLab, renderApp, server, snapshot } from "./fixtures.js";

afterEach(() => cleanup());

const COLUMNS = 80;
const ROWS = 24;

/** Renders a scene at 80×24 (as a terminal that size would) and waits for a frame drawn at that size. */
async function renderAt(element: ReactElement) {
  const ui = render(<ThemeContext.Provider value={PLAIN_THEME}>{element}</ThemeContext.Provider>);
  Object.defineProperty(ui.stdout, "columns", { value: COLUMNS, configurable: true });
  Object.defineProperty(ui.stdout, "rows", { value: ROWS, configurable: true });
  ui.stdout.emit("resize");
  const frameMatching = (check: (f: string) => boolean, what: string) =>
    vi.waitFor(
      () => {
        const f = ui.lastFrame() ?? "";
        if (!check(f)) throw new Error(`waiting for ${what}; last frame:\n${f}`);
        return f;
      },
      { timeout: 10_000, interval: 20 },
    );
  await frameMatching((f) => Math.max(...f.split("\n").map((r) => [...r].length)) === COLUMNS, "80 columns");
  return { ui, frameMatching };
}

/** A unit, as it would stand alone at the start of a pane row if a wrap had parted it from its number. */
const LONE_UNIT = /^[┃│]\s+(?:B|KiB|MiB|GiB|ms|s|%|dgram\/s|msg\/s)(?:[\s/)]|$)/;

/** What every scene's frame at 80×24 must be: inside the terminal, no cut or stranded pieces. */
function expectTidy(frame: string): void {
  const rows = frame.split("\n");
  expect(rows.length).toBeLessThanOrEqual(ROWS - 1);
  for (const row of rows) {
    expect([...row].length, row).toBeLessThanOrEqual(COLUMNS);
    expect(row, "a number parted from its unit").not.toMatch(LONE_UNIT);
  }
  // The title, the legend and the server's figures end with whole words, not a cut one.
  const title = rows[0] ?? "";
  const legend = rows.at(-1) ?? "";
  const status = rows.find((r) => /● (listening|restarting)/.test(r) && /^│/.test(r)) ?? "";
  for (const row of [title, legend, status]) expect(row.trimEnd(), row).not.toMatch(/…[│┃]?$/);
  expect(legend).toContain("^C quit");
}

describe("#20 every scene at 80×24", () => {
  it("chat: one client, one message: tidy, and '1 client', '1 peer', '1 msg'", async () => {
    const lab = new LabController(chatFactory, { clients: 1, statsIntervalMs: 20 });
    onTestFinished(() => lab.close());
    await lab.start();
    const { frameMatching } = await renderAt(<App lab={lab} />);
    await frameMatching((f) => f.includes("for commands"), "the welcome");
    lab.send(1, "hello at eighty columns, a line long enough to wrap twice in a narrow pane");
    const f = await frameMatching((f) => f.includes(" 1 msg ") && f.includes("narrow pane"), "the message");
    expectTidy(f);
    // The server log's connect line breaks before the address, a unit of its own; it once left
    // "connected" alone on a row.
    expect(f).toMatch(/\+ connect\s[\s│]*127\.0\.0\.1:\d+/);
    expect(f).not.toMatch(/│\s+connected\s+│/);
    expect(f).toMatch(/· 1 client\b/);
    expect(f).toContain(" 1 peer ");
    expect(f).not.toMatch(/\b1 (clients|peers|msgs)\b/);
  });

  it("chat's wire view says '1 write' and '1 read'", async () => {
    const at = Date.now();
    const wire: WireChunk[] = [
      { direction: "out", bytes: new TextEncoder().encode("hi\n"), at },
      { direction: "in", bytes: new TextEncoder().encode("<alice> hi\n"), at },
    ] as WireChunk[];
    const lab = recordingLab(
      snapshot(3, { server: server(), clients: [client(1, { wire }), client(2), client(3)] }),
    );
    const app = await renderApp(lab, { columns: COLUMNS, rows: ROWS });
    await app.press(KEYS.ctrlW);
    const f = await app.frameMatching((f) => f.includes("wire · client 1"));
    expect(f).toContain("→ 3 B in 1 write");
    expect(f).toContain("← 11 B in 1 read");
    expectTidy(f);
  });

  it("chat as a cluster: each pane names its node unless that would cut the nick; the server pane names the nodes", async () => {
    const cluster = {
      redis: "127.0.0.1:6379",
      nodes: [
        { id: "a", host: "127.0.0.1", port: 40123 },
        { id: "b", host: "127.0.0.1", port: 40124 },
      ],
    };
    const lab = recordingLab(
      snapshot(3, {
        server: server({ cluster }),
        clients: [client(1, { node: "a" }), client(2, { node: "b" }), client(3, { node: "a" })],
      }),
    );
    const app = await renderApp(lab, { columns: COLUMNS, rows: ROWS });
    const f = app.frame();
    expect(f).toContain("▶ 1 alice  ● connected"); // focused: no room for "@a", and no "alic…"
    expect(f).toContain("2 bob @b");
    expect(f).toContain("3 carol @a");
    expect(f).toContain("nodes a and b via Redis 127.0.0.1:6379");
    expectTidy(f);
  });

  it("transfer: one uploader, its file verified: tidy, '1 uploader' and '1 file'", async () => {
    const lab = new TransferLabController({ clients: 1, fileBytes: 64 * 1024 });
    onTestFinished(() => lab.close());
    await lab.start();
    const { frameMatching } = await renderAt(<TransferApp lab={lab} />);
    const f = await frameMatching((f) => f.includes("sha256") && f.includes(" 1 file "), "the verified file");
    expectTidy(f);
    expect(f).toMatch(/· 1 uploader\b/);
    expect(f).not.toMatch(/\b1 (uploaders|files)\b/);
    // The rate stays; the total (the bar shows the share) is what a narrow pane drops.
    expect(f).toMatch(/64\.0 KiB · [\d.]+ [KMG]?i?B\/s/);
  });

  it("udp: one pinger: tidy, '1 pinger'", async () => {
    const lab = new UdpLabController({ pingers: 1, lossRate: 0, delayMs: 0, intervalMs: 50 });
    onTestFinished(() => lab.close());
    await lab.start();
    const { frameMatching } = await renderAt(<UdpApp lab={lab} />);
    const f = await frameMatching((f) => /seq=\d+ [\d.]+ ms/.test(f), "an echo");
    expectTidy(f);
    expect(f).toMatch(/· 1 pinger\b/);
  });

  it("proxy: one connection through the proxy: tidy, '1 connection'", async () => {
    const lab = new ProxyLabController({ intervalMs: 100 });
    onTestFinished(() => lab.close());
    await lab.start();
    const { frameMatching } = await renderAt(<ProxyApp lab={lab} />);
    const f = await frameMatching((f) => f.includes("read 21 B") && f.includes("1 connection"), "a read");
    expectTidy(f);
    expect(f).not.toContain("1 connections");
  });
});

describe("#20 wrapping for narrow panes", () => {
  it("indents continuation rows, keeps a number with its unit and a marker with its word", () => {
    expect(wrapText("✓ uploader1-1.bin 16.0 MiB in 1.57 s (10.2 MiB/s) sha256 7e8fcc…cf2761", 22)).toEqual([
      "✓ uploader1-1.bin",
      "  16.0 MiB in 1.57 s",
      "  (10.2 MiB/s)",
      "  sha256 7e8fcc…cf2761",
    ]);
    expect(wrapText("2.992s 21 B held 0.1 ms", 18)).toEqual(["2.992s 21 B", "  held 0.1 ms"]);
  });

  it("gives a one-word last row the word before it, but never empties the row above", () => {
    expect(wrapText("* netlab chat/1 — welcome to netlab, you are alice. /help for commands", 22)).toEqual([
      "* netlab chat/1 —",
      "  welcome to netlab,",
      "  you are alice. /help",
      "  for commands",
    ]);
    expect(wrapText("* connecting to 127.0.0.1:45081", 22)).toEqual(["* connecting", "  to 127.0.0.1:45081"]);
    expect(wrapText("+ 127.0.0.1:41740 connected", 26)).toEqual(["+ 127.0.0.1:41740", "  connected"]);
  });

  it("cuts a word longer than a row, and keeps every row within the width", () => {
    const rows = wrapText("x".repeat(45), 10);
    expect(rows[0]).toBe("x".repeat(10));
    for (const row of rows) expect([...row].length).toBeLessThanOrEqual(10);
    expect(rows.slice(1).every((r) => r.startsWith(" ".repeat(WRAP_INDENT)))).toBe(true);
    expect(rows.join("").replaceAll(" ", "")).toBe("x".repeat(45));
  });

  it("blanks the rows at the top of a window that continue a line scrolled out of view", () => {
    const rows = [
      { text: "  to 127.0.0.1:1", cont: true },
      { text: "* connected", cont: false },
      { text: "  more", cont: true },
    ];
    expect(
      blankPartialTop(
        rows,
        (r) => r.cont,
        (r) => ({ ...r, text: "" }),
      ).map((r) => r.text),
    ).toEqual(["", "* connected", "  more"]);
  });

  it("fitFields keeps whole fields only", () => {
    expect(fitFields(["3 peers", "0.0 msg/s", "1 msg"], 20, "  ")).toBe("3 peers  0.0 msg/s");
    expect(fitFields(["a long first field"], 5, "  ")).toBe("");
  });
});
