// Issue 13: text from the network reaches every pane of every scene shown, never obeyed.
import { UNSAFE_TEXT } from "@netlab/core";
import { cleanup, render } from "ink-testing-library";
import { afterEach, describe, expect, it } from "vitest";
import { chatFactory } from "../src/chat-factory.js";
import type { WireChunk } from "../src/model.js";
import { formatTranscripts } from "../src/player.js";
import { screenText, truncate, wrapText } from "../src/text.js";
import { PLAIN_THEME, ThemeContext } from "../src/theme.js";
import type { TransferControls, TransferSnapshot } from "../src/transfer/model.js";
import { TransferApp } from "../src/transfer/TransferApp.js";
import type { UdpControls, UdpSnapshot } from "../src/udp/model.js";
import { UdpApp } from "../src/udp/UdpApp.js";
import { client, KEYS, lines, recordingLab, renderApp, server, snapshot } from "./fixtures.js";

afterEach(() => cleanup());

/** OSC title, clear screen, a CR faking a notice, BS, NUL, DEL, C1 CSI, bidi override and isolate, separators. */
const ATTACK =
  "hi \x1b]0;PWNED\x07\x1b[2J\r* fake\x08\x00\x7f\u009b31m\u202egnp.exe\u2066x\u2069a\u2028b\u2029c";

/** A frame drawn with the plain theme has no escape sequence of Ink's own: any control is the peer's. */
function expectInert(frame: string): void {
  // The frame's own line breaks are Ink's layout; nothing else may be a control character.
  for (const row of frame.split("\n")) {
    expect(UNSAFE_TEXT.test(row), `live control in ${JSON.stringify(row)}`).toBe(false);
  }
}

describe("#13 the demo's panes show hostile text escaped", () => {
  it("chat scene: transcripts, nicks, rooms, the server log and the peer table", async () => {
    const hostile = snapshot(2, {
      server: server({
        log: lines(`${ATTACK} joined`, `! ${ATTACK}`),
        peers: [
          {
            id: 1,
            nick: `m\x1b[2J${ATTACK}`,
            room: "#lobby",
            address: "127.0.0.1",
            port: 5000,
            mode: "text",
            bytesIn: 1,
            bytesOut: 1,
            messagesIn: 1,
          },
        ],
      }),
      clients: [
        client(1, {
          nick: `eve\x1b]0;x\x07`,
          room: `#r\u202e`,
          transcript: lines(`<mal> ${ATTACK}`, `* ${ATTACK}`),
        }),
        client(2, { transcript: lines(`<mal> two\nlines ${ATTACK}`) }),
      ],
    });
    const { frame, frameMatching } = await renderApp(recordingLab(hostile), { columns: 120, rows: 40 });
    await frameMatching((f) => f.includes("^[]0;PWNED^G"));
    expectInert(frame());
    expect(frame()).toContain("<U+202E>gnp.exe");
  });

  it("chat scene: what is typed and the wire view of hostile bytes", async () => {
    const wire: WireChunk[] = [
      { direction: "in", bytes: new TextEncoder().encode(`${ATTACK}\n`), at: 0 },
      { direction: "out", bytes: new TextEncoder().encode("\u009b2J\u202e\n"), at: 0 },
    ];
    const lab = recordingLab(snapshot(2, { clients: [client(1, { nick: "e\x07ve", wire }), client(2)] }));
    const { frame, frameMatching, press } = await renderApp(lab, { columns: 120, rows: 40 });
    await press("a", "\x1b]0;typed\x07");
    await press(KEYS.ctrlW);
    await frameMatching((f) => f.includes("wire · client 1"));
    expectInert(frame());
  });

  it("transfer scene: hostile file names in the uploader panes and the server log", () => {
    const name = `evil${ATTACK}.bin`;
    const snap: TransferSnapshot = {
      scene: "transfer",
      server: {
        host: "127.0.0.1",
        port: 41234,
        status: "listening",
        root: "/tmp/x",
        files: 1,
        bytesStored: 1,
        log: lines(`put ${name} 1 B from 127.0.0.1:5 ✓`),
      },
      clients: [
        {
          id: 1,
          state: "uploading",
          name,
          bytesDone: 1,
          totalBytes: 2,
          bytesPerSecond: 1,
          uploads: 0,
          log: lines(`! ${ATTACK}`),
          error: undefined,
        },
      ],
    };
    const lab: TransferControls = {
      upload: () => {},
      addClient: async () => 1,
      restartServer: async () => {},
      close: async () => {},
      subscribe: () => () => {},
      getSnapshot: () => snap,
    };
    const ui = render(
      <ThemeContext.Provider value={PLAIN_THEME}>
        <TransferApp lab={lab} />
      </ThemeContext.Provider>,
    );
    const f = ui.lastFrame() ?? "";
    expect(f).toContain("evilhi ^[]0;PWNED^G");
    expectInert(f);
  });

  it("udp scene: hostile payload text in the pinger and echo logs", () => {
    const snap: UdpSnapshot = {
      scene: "udp",
      server: {
        host: "127.0.0.1",
        port: 40999,
        status: "listening",
        lossRate: 0,
        delayMs: 0,
        datagrams: 1,
        dropped: 0,
        datagramsPerSecond: 1,
        log: lines(`odd datagram: ${ATTACK}`),
      },
      clients: [
        {
          id: 1,
          state: "running",
          transmitted: 1,
          received: 1,
          late: 0,
          duplicates: 0,
          lossPercent: 0,
          rtt: undefined,
          recent: [],
          log: lines(`reply ${ATTACK}`),
          error: undefined,
        },
      ],
    };
    const lab: UdpControls = {
      addPinger: async () => 1,
      togglePinger: async () => {},
      restartServer: async () => {},
      setNetwork: async () => {},
      close: async () => {},
      subscribe: () => () => {},
      getSnapshot: () => snap,
    };
    const ui = render(
      <ThemeContext.Provider value={PLAIN_THEME}>
        <UdpApp lab={lab} />
      </ThemeContext.Provider>,
    );
    const f = ui.lastFrame() ?? "";
    expect(f).toContain("reply hi ^[]0;PWNED^G");
    expectInert(f);
  });
});

describe("#13 the demo's text helpers and transcripts", () => {
  it("screenText, truncate and wrapText never let a control through, and change clean text not at all", () => {
    expect(screenText("a\x1b[2J\nb\u202e")).toBe("a^[[2J\nb<U+202E>");
    expect(truncate("a\x07b\nc", 10)).toBe("a^Gb^Jc");
    for (const row of wrapText(ATTACK, 7)) expect(UNSAFE_TEXT.test(row)).toBe(false);
    expect(screenText("<alice> hi — ünïcode ✓")).toBe("<alice> hi — ünïcode ✓");
  });

  it("a chat message's own newline stays on its line (^J): only the server's help keeps line breaks", () => {
    const message = chatFactory.formatEvent(
      { type: "message", id: 1, room: "#lobby", from: "mal", text: "hi\n* server is shutting down", ts: 0 },
      "eve",
    );
    expect(message).toBe("<mal> hi^J* server is shutting down");
    const help = chatFactory.formatEvent({ type: "notice", kind: "info", text: "a\nb\x07", ts: 0 });
    expect(help).toBe("* a\n* b^G");
  });

  it("lab demo --script prints the transcripts escaped", () => {
    const out = formatTranscripts(
      snapshot(1, { clients: [client(1, { transcript: lines(`<mal> ${ATTACK}`) })] }),
    );
    expect(out).toContain("<mal> hi ^[]0;PWNED^G");
    for (const row of out.split("\n")) expect(UNSAFE_TEXT.test(row)).toBe(false);
  });
});
