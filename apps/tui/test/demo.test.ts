import { Console } from "node:console";
import { EventEmitter } from "node:events";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chatFactory } from "../src/chat-factory.js";
import type { ChatFactory, LabChatServer } from "../src/controller.js";
import { runDemo } from "../src/demo.js";

/** A terminal's output: 120×40, keeping everything written (ANSI stripped). */
function fakeStdout() {
  const out = Object.assign(new EventEmitter(), {
    columns: 120,
    rows: 40,
    isTTY: true,
    text: "",
    raw: "",
    write(chunk: string) {
      out.raw += chunk;
      out.text += chunk.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, "");
      return true;
    },
  });
  return out;
}

/** A terminal's input that Ink can put in raw mode; `type()` sends keys. */
function fakeStdin() {
  const stream = new PassThrough();
  return Object.assign(stream, {
    isTTY: true,
    setRawMode: () => stream,
    ref: () => stream,
    unref: () => stream,
  });
}

const ALT_SCREEN_ON = "\u001b[?1049h";
const ALT_SCREEN_OFF = "\u001b[?1049l";

describe("runDemo", () => {
  // runDemo has Ink patch the console (so stray logs do not tear the frame), which needs
  // console.Console; vitest's console lacks it.
  const hadConsole = "Console" in console;
  beforeAll(() => {
    if (!hadConsole) Object.assign(console, { Console });
  });
  afterAll(() => {
    if (!hadConsole) delete (console as { Console?: unknown }).Console;
  });

  it("draws the server listening and every client connected, and leaves the alternate screen on Ctrl-C", async () => {
    const stdout = fakeStdout();
    const stdin = fakeStdin();
    const done = runDemo({
      clients: 2,
      stdout: stdout as unknown as NodeJS.WriteStream,
      stdin: stdin as unknown as NodeJS.ReadStream,
      env: { NO_COLOR: "1" },
    });
    // The newest frame (Ink writes each whole, title first) with both clients up.
    const isFull = () => {
      const frame = stdout.text.slice(stdout.text.lastIndexOf("netlab demo"));
      return frame.includes("● listening") && frame.split("● connected").length - 1 === 2;
    };
    // Generous: a loaded 2-core CI machine importing Ink under vitest can take several seconds.
    const deadline = Date.now() + 25_000;
    while (!isFull() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(isFull(), stdout.text.slice(-2000)).toBe(true);
    stdin.write("\u0003");
    await done;
    expect(stdout.raw.startsWith(ALT_SCREEN_ON)).toBe(true);
    expect(stdout.raw.endsWith(ALT_SCREEN_OFF)).toBe(true);
  }, 40_000);

  it("rejects with the server's error, draws no frame and leaves the alternate screen when it cannot listen", async () => {
    const failing: ChatFactory = {
      ...chatFactory,
      createServer: () =>
        Object.assign(new EventEmitter(), {
          listen: () => Promise.reject(new Error("cannot listen on 127.0.0.1:0: injected")),
          close: () => Promise.resolve(),
          peers: () => [],
          stats: () => ({ clients: 0, messagesTotal: 0, bytesIn: 0, bytesOut: 0 }),
        }) as unknown as LabChatServer,
    };
    const stdout = fakeStdout();
    await expect(
      runDemo({
        factory: failing,
        stdout: stdout as unknown as NodeJS.WriteStream,
        stdin: fakeStdin() as unknown as NodeJS.ReadStream,
      }),
    ).rejects.toThrow("cannot listen on 127.0.0.1:0: injected");
    expect(stdout.text).not.toContain("netlab demo");
    expect(stdout.raw).toBe(ALT_SCREEN_ON.concat("\u001b[H", ALT_SCREEN_OFF));
  });
});
