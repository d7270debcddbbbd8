import { cleanup } from "ink-testing-library";
import { afterEach, describe, expect, it } from "vitest";
import { client, KEYS, lines, recordingLab, renderApp, server, snapshot } from "./fixtures.js";

afterEach(() => cleanup());

/** The row of the frame that contains `text`. */
function rowWith(frame: string, text: string): string {
  return frame.split("\n").find((l) => l.includes(text)) ?? "";
}

describe("App layout", () => {
  it("shows every client pane side by side, the server pane with its port, and the legend at 80×24", async () => {
    const { frame } = await renderApp(recordingLab(snapshot(3)), { columns: 80, rows: 24 });
    const f = frame();
    const header = rowWith(f, "alice");
    expect(header).toContain("bob");
    expect(header).toContain("carol");
    expect(header).not.toContain("#…"); // a room that does not fit whole is left out
    expect(f).toContain("server 127.0.0.1:40123");
    expect(f).toContain("● listening");
    expect(f).toContain("^C quit");
    expect(f.split("\n").length).toBeLessThanOrEqual(23);
    for (const row of f.split("\n")) expect([...row].length).toBeLessThanOrEqual(80);
  });

  it("wraps six clients into two rows of three at 80×24", async () => {
    const { frame } = await renderApp(recordingLab(snapshot(6)), { columns: 80, rows: 24 });
    const f = frame();
    expect(rowWith(f, "alice")).toContain("carol");
    expect(rowWith(f, "alice")).not.toContain("dave");
    expect(rowWith(f, "dave")).toContain("frank");
  });

  it("puts two panes per row at 60 columns and all three in one row at 200", async () => {
    const app = await renderApp(recordingLab(snapshot(3)), { columns: 60, rows: 30 });
    expect(rowWith(app.frame(), "alice")).toContain("bob");
    expect(rowWith(app.frame(), "alice")).not.toContain("carol");
    await app.resize(200, 50);
    const f = await app.frameMatching((f) => rowWith(f, "alice").includes("carol"));
    for (const row of f.split("\n")) expect([...row].length).toBeLessThanOrEqual(200);
    expect(f.split("\n").length).toBe(49);
  });

  it("asks for a bigger window instead of drawing a broken layout, and reflows when it grows", async () => {
    const app = await renderApp(recordingLab(snapshot(3)), { columns: 50, rows: 12 });
    expect(app.frame()).toMatch(/make the window at least 60×\d+/);
    expect(app.frame()).toContain("it is 50×12");
    expect(app.frame()).not.toContain("alice");
    await app.resize(100, 30);
    await app.frameMatching((f) => f.includes("alice") && !f.includes("make the window"));
  });

  it("gives the legend in full when wide and shortened when narrow", async () => {
    const app = await renderApp(recordingLab(snapshot(3)), { columns: 200, rows: 40 });
    expect(app.frame()).toContain("^R restart server");
    expect(app.frame()).toContain("Tab/⇧Tab focus");
    await app.resize(80, 24);
    const f = await app.frameMatching((f) => !f.includes("restart server"));
    expect(f).toContain("^R restart");
    expect(f).toContain("^W wire");
  });

  it("lists peers with address, bytes and message counts in the server pane", async () => {
    const peers = [
      {
        id: 1,
        nick: "alice",
        room: "#lobby",
        address: "127.0.0.1",
        port: 51000,
        mode: "json" as const,
        bytesIn: 1234,
        bytesOut: 99,
        messagesIn: 7,
      },
    ];
    const lab = recordingLab(snapshot(1, { server: server({ peers, messagesPerSecond: 2.5 }) }));
    const { frame } = await renderApp(lab, { columns: 120, rows: 30 });
    const row = rowWith(frame(), "127.0.0.1:51000");
    expect(row).toContain("alice");
    expect(row).toContain("1.2 KiB");
    expect(row).toContain("99 B");
    expect(row).toMatch(/\b7\b/);
    expect(frame()).toContain("2.5 msg/s");
  });
});

describe("App exposure warning", () => {
  // lab demo --host 0.0.0.0 said nothing of who else could join; at 80×24 the server log is too
  // short for the whole warning, so the title line flags it and the log has it in full.
  const warning =
    "every interface (0.0.0.0) is reachable from other machines, and anyone who reaches it can join the chat under any free nick (docs/security.md)";
  const exposed = (n: number) =>
    snapshot(n, {
      server: server({
        host: "0.0.0.0",
        exposure: warning,
        log: [
          ...lines("listening on 0.0.0.0:40123"),
          { seq: 2, at: 0, kind: "warn", text: `warning: ${warning}` },
        ],
      }),
    });

  it("flags a server others can reach in the title line at 80×24, and shows the whole warning in a roomy server log", async () => {
    const small = await renderApp(recordingLab(exposed(3)), { columns: 80, rows: 24 });
    const title = small.frame().split("\n")[0]!;
    expect(title).toContain("! reachable from other machines (docs/security.md)");
    expect([...title].length).toBeLessThanOrEqual(80);
    cleanup();
    const roomy = await renderApp(recordingLab(exposed(1)), { columns: 200, rows: 50 });
    const text = roomy.frame().replace(/[│┃]/g, " ").replace(/\s+/g, " ");
    expect(text).toContain(`warning: ${warning}`);
  });

  it("flags nothing on loopback", async () => {
    const { frame } = await renderApp(recordingLab(snapshot(3)), { columns: 80, rows: 24 });
    expect(frame()).not.toContain("reachable");
  });
});

describe("App focus and input", () => {
  it("starts with the first client focused and moves with Tab and Shift-Tab, wrapping around", async () => {
    const app = await renderApp(recordingLab(snapshot(3)));
    expect(app.frame()).toContain("▶ 1 alice");
    await app.press(KEYS.tab);
    await app.frameMatching((f) => f.includes("▶ 2 bob") && !f.includes("▶ 1"));
    await app.press(KEYS.shiftTab, KEYS.shiftTab);
    await app.frameMatching((f) => f.includes("▶ 3 carol"));
    await app.press(KEYS.tab);
    await app.frameMatching((f) => f.includes("▶ 1 alice"));
  });

  it("marks the focused pane with a heavy border as well as the arrow", async () => {
    const app = await renderApp(recordingLab(snapshot(2)));
    const top = app.frame().split("\n")[1] ?? "";
    expect(top).toMatch(/^┏━+┓╭─+╮$/);
  });

  it("sends the typed line from the focused client on Enter and clears the input", async () => {
    const lab = recordingLab(snapshot(3));
    const app = await renderApp(lab);
    await app.press(KEYS.tab, "h", "e", "y", "y", KEYS.backspace);
    await app.frameMatching((f) => f.includes("› hey"));
    await app.press(KEYS.enter);
    await app.frameMatching((f) => !f.includes("› hey"));
    expect(lab.calls).toContainEqual(["send", 2, "hey"]);
  });

  it("keeps each client's unsent input when focus moves away and back", async () => {
    const app = await renderApp(recordingLab(snapshot(2)));
    await app.press("d", "r", "a", "f", "t", KEYS.tab);
    await app.frameMatching((f) => f.includes("▶ 2 bob") && f.includes("› draft"));
    await app.press(KEYS.tab, "!");
    await app.frameMatching((f) => f.includes("› draft!"));
  });

  it("acts on Enter and Tab inside text that arrives in one read (a paste, tmux send-keys)", async () => {
    const lab = recordingLab(snapshot(3));
    const app = await renderApp(lab);
    await app.press("first\r\tsecond\rthirdd\u007f\u0017");
    await app.frameMatching(
      (f) => f.includes("▶ 2 bob") && f.includes("› third") && f.includes("wire · client 2"),
    );
    expect(lab.calls).toEqual([
      ["send", 1, "first"],
      ["send", 2, "second"],
    ]);
  });

  it("does not send an empty line", async () => {
    const lab = recordingLab(snapshot(1));
    const app = await renderApp(lab);
    await app.press(" ", KEYS.enter);
    expect(lab.calls.filter((c) => c[0] === "send")).toEqual([]);
  });
});

describe("App lab keys", () => {
  it("adds a client with ^N, drops the focused one with ^D and restarts the server with ^R", async () => {
    const lab = recordingLab(snapshot(3));
    const app = await renderApp(lab);
    await app.press(KEYS.tab, KEYS.ctrlD, KEYS.ctrlR, KEYS.ctrlN);
    await app.frameMatching(() => lab.calls.length >= 3);
    expect(lab.calls).toContainEqual(["dropClient", 2]);
    expect(lab.calls).toContainEqual(["restartServer"]);
    expect(lab.calls).toContainEqual(["addClient"]);
  });

  it("reconnects a closed client with ^D", async () => {
    const lab = recordingLab(snapshot(2, { clients: [client(1, { state: "closed" }), client(2)] }));
    const app = await renderApp(lab);
    await app.press(KEYS.ctrlD);
    await app.frameMatching(() => lab.calls.length > 0);
    expect(lab.calls).toEqual([["reconnectClient", 1]]);
  });

  it("toggles the wire view for the focused client with ^W", async () => {
    const wire = [
      {
        direction: "out" as const,
        bytes: new TextEncoder().encode('{"type":"message","text":"hi"}\n'),
        at: 0,
      },
      { direction: "in" as const, bytes: new TextEncoder().encode("a\nb\n"), at: 0 },
    ];
    const lab = recordingLab(snapshot(2, { clients: [client(1), client(2, { wire })] }));
    const app = await renderApp(lab, { columns: 100, rows: 30 });
    await app.press(KEYS.tab, KEYS.ctrlW);
    const f = await app.frameMatching((f) => f.includes("wire · client 2 bob"));
    expect(f).toContain("→ 31 B");
    expect(f).toContain('"text":"hi"}⏎┃');
    expect(f).toContain("a⏎b⏎┃ 2 messages in one read");
    // Narrower than 120 columns, the wire view takes the server pane's place.
    expect(f).not.toContain("│ server 127.0.0.1");
    await app.press(KEYS.ctrlW);
    await app.frameMatching((f) => !f.includes("wire · client") && f.includes("│ server 127.0.0.1"));
  });

  it("shows the wire view beside the server pane when the window is wide", async () => {
    const app = await renderApp(recordingLab(snapshot(2)), { columns: 160, rows: 40 });
    await app.press(KEYS.ctrlW);
    const f = await app.frameMatching((f) => f.includes("wire · client 1 alice"));
    expect(rowWith(f, "wire · client 1")).toContain("server 127.0.0.1:40123");
    expect(f).toContain("no bytes yet");
  });

  it("scrolls the focused transcript with PgUp and back with PgDn", async () => {
    const many = lines(...Array.from({ length: 40 }, (_, i) => `line ${i + 1}`));
    const lab = recordingLab(snapshot(1, { clients: [client(1, { transcript: many })] }));
    const app = await renderApp(lab, { columns: 80, rows: 24 });
    expect(app.frame()).toContain("line 40");
    await app.press(KEYS.pageUp);
    const f = await app.frameMatching((f) => !f.includes("line 40"));
    expect(f).toMatch(/↓ \d+ more/);
    expect(f).toMatch(/↑ \d+ more/);
    await app.press(KEYS.pageDown);
    await app.frameMatching((f) => f.includes("line 40"));
  });

  it("closes the lab on Ctrl-C, says so, and exits", async () => {
    const lab = recordingLab(snapshot(2));
    const app = await renderApp(lab);
    await app.press(KEYS.ctrlC);
    await app.frameMatching(() => app.onQuit.mock.calls.length === 1);
    expect(lab.calls).toEqual([["close"]]);
  });
});

describe("App error states", () => {
  it("shows a closed client with a cross, its error, and how to reconnect", async () => {
    const failed = client(1, {
      state: "closed",
      error: "cannot connect to 127.0.0.1:40123: connection refused",
      transcript: lines(
        "* connecting to 127.0.0.1:40123",
        "! cannot connect to 127.0.0.1:40123: connection refused",
      ),
    });
    const app = await renderApp(recordingLab(snapshot(1, { clients: [failed] })), { columns: 100, rows: 30 });
    const f = app.frame();
    expect(f).toContain("✖ closed");
    expect(f).toContain("connection refused");
    expect(f).toContain("^D reconnects");
  });

  it("shows a reconnecting client and a restarting server", async () => {
    const s = snapshot(2, {
      server: server({
        status: "restarting",
        log: lines("listening on 127.0.0.1:40123", "restarting: closing every connection"),
      }),
      clients: [client(1, { state: "reconnecting" }), client(2, { state: "reconnecting" })],
    });
    const app = await renderApp(recordingLab(s));
    const f = app.frame();
    expect(f).toContain("○ reconnecting");
    expect(f).toContain("○ restarting");
    expect(f).toContain("restarting: closing every connection");
  });

  it("shows a server that could not listen as stopped, with the error in its log", async () => {
    const s = snapshot(1, {
      server: server({ status: "stopped", log: lines("! port 40123 is in use") }),
      clients: [client(1, { state: "closed" })],
    });
    const app = await renderApp(recordingLab(s));
    expect(app.frame()).toContain("✖ stopped");
    expect(app.frame()).toContain("port 40123 is in use");
  });

  it("follows the lab: a new line in a transcript appears without any key", async () => {
    const lab = recordingLab(snapshot(2));
    const app = await renderApp(lab);
    lab.set(snapshot(2, { clients: [client(1, { transcript: lines("<bob> ping") }), client(2)] }));
    await app.frameMatching((f) => f.includes("<bob> ping"));
  });
});

describe("NO_COLOR", () => {
  it("is honoured when set and not empty (no-color.org)", async () => {
    const { wantsNoColor, PLAIN_THEME: plain } = await import("../src/theme.js");
    expect(wantsNoColor({ NO_COLOR: "1" })).toBe(true);
    expect(wantsNoColor({ NO_COLOR: "" })).toBe(false);
    expect(wantsNoColor({})).toBe(false);
    expect(Object.entries(plain).filter(([k, v]) => k !== "isColor" && v !== undefined)).toEqual([]);
  });
});
