import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ChatError,
  checkNick,
  checkRoom,
  FloodControl,
  formatEvent,
  History,
  parseInput,
} from "../src/index.js";

describe("parseInput", () => {
  it("treats plain text as a message and ignores blank lines", () => {
    expect(parseInput("hello there")).toEqual({ type: "message", text: "hello there" });
    expect(parseInput("   ")).toBeUndefined();
    expect(parseInput("")).toBeUndefined();
  });

  it("parses every command", () => {
    expect(parseInput("/nick alice")).toEqual({ type: "nick", nick: "alice" });
    expect(parseInput("/join #games")).toEqual({ type: "join", room: "#games" });
    expect(parseInput("/rooms")).toEqual({ type: "rooms" });
    expect(parseInput("/who")).toEqual({ type: "who" });
    expect(parseInput("/msg bob  hi there ")).toEqual({ type: "private", to: "bob", text: "hi there" });
    expect(parseInput("/me waves")).toEqual({ type: "me", text: "waves" });
    expect(parseInput("/help")).toEqual({ type: "help" });
    expect(parseInput("/quit")).toEqual({ type: "quit" });
    expect(parseInput("/QUIT")).toEqual({ type: "quit" });
  });

  it("sends a line starting with // as a message starting with /", () => {
    expect(parseInput("//etc/hosts")).toEqual({ type: "message", text: "/etc/hosts" });
  });

  it("rejects unknown commands and missing arguments with codes", () => {
    expect(() => parseInput("/frob")).toThrow(expect.objectContaining({ code: "UNKNOWN_COMMAND" }));
    expect(() => parseInput("/nick")).toThrow(expect.objectContaining({ code: "BAD_ARGUMENTS" }));
    expect(() => parseInput("/nick a b")).toThrow(expect.objectContaining({ code: "BAD_ARGUMENTS" }));
    expect(() => parseInput("/msg bob")).toThrow(expect.objectContaining({ code: "BAD_ARGUMENTS" }));
    expect(() => parseInput("/me")).toThrow(ChatError);
  });

  it("never throws anything but a ChatError, whatever the line", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        try {
          parseInput(s);
        } catch (err) {
          expect(err).toBeInstanceOf(ChatError);
        }
      }),
    );
  });
});

describe("nick and room rules", () => {
  it("accepts 1–32 letters, digits, _ and -", () => {
    expect(checkNick("a")).toBe("a");
    expect(checkNick("alice_2-x")).toBe("alice_2-x");
    expect(checkNick("é".repeat(32))).toBe("é".repeat(32));
  });

  it("rejects empty, too long, punctuation, spaces and the reserved nick", () => {
    for (const bad of ["", "x".repeat(33), "al ice", "a.b", "<bob>", "server", "Server"]) {
      expect(() => checkNick(bad), bad).toThrow(expect.objectContaining({ code: "NICK_INVALID" }));
    }
  });

  it("adds a missing # to a room and rejects bad names", () => {
    expect(checkRoom("games")).toBe("#games");
    expect(checkRoom("#games")).toBe("#games");
    expect(() => checkRoom("#")).toThrow(expect.objectContaining({ code: "ROOM_INVALID" }));
    expect(() => checkRoom("#a b")).toThrow(expect.objectContaining({ code: "ROOM_INVALID" }));
  });
});

describe("History", () => {
  it("keeps the last N items, oldest first", () => {
    const h = new History<number>(3);
    for (let i = 1; i <= 5; i++) h.push(i);
    expect(h.items()).toEqual([3, 4, 5]);
    expect(h.size).toBe(3);
  });

  it("keeps nothing at capacity 0", () => {
    const h = new History<number>(0);
    h.push(1);
    expect(h.items()).toEqual([]);
  });

  it("matches a plain array's tail for any sequence", () => {
    fc.assert(
      fc.property(fc.nat(10), fc.array(fc.integer(), { maxLength: 40 }), (cap, xs) => {
        const h = new History<number>(cap);
        for (const x of xs) h.push(x);
        expect(h.items()).toEqual(cap === 0 ? [] : xs.slice(-cap));
      }),
    );
  });
});

describe("FloodControl", () => {
  it("allows the limit, warns once over it, drops, then disconnects at twice the limit", () => {
    const f = new FloodControl({ floodMessages: 3, floodWindowMs: 1000 });
    const verdicts = [0, 1, 2, 3, 4, 5].map((t) => f.check(t));
    expect(verdicts).toEqual(["ok", "ok", "ok", "warn", "drop", "disconnect"]);
  });

  it("forgets messages older than the window", () => {
    const f = new FloodControl({ floodMessages: 2, floodWindowMs: 100 });
    expect([f.check(0), f.check(10), f.check(200), f.check(210)]).toEqual(["ok", "ok", "ok", "ok"]);
  });

  it("is off with Infinity", () => {
    const f = new FloodControl({ floodMessages: Number.POSITIVE_INFINITY });
    for (let i = 0; i < 1000; i++) expect(f.check(0)).toBe("ok");
  });
});

describe("formatEvent", () => {
  it("formats each event as the text protocol shows it", () => {
    expect(formatEvent({ type: "message", id: 1, room: "#lobby", from: "alice", text: "hi", ts: 0 })).toBe(
      "<alice> hi",
    );
    expect(
      formatEvent({
        type: "message",
        id: 1,
        room: "#lobby",
        from: "alice",
        text: "waves",
        ts: 0,
        action: true,
      }),
    ).toBe("* alice waves");
    expect(formatEvent({ type: "join", room: "#lobby", nick: "bob", ts: 0 })).toBe("* bob joined #lobby");
    expect(formatEvent({ type: "leave", room: "#lobby", nick: "bob", ts: 0, reason: "quit" })).toBe(
      "* bob left #lobby (quit)",
    );
    expect(formatEvent({ type: "nick", from: "guest-1", to: "al", ts: 0 })).toBe(
      "* guest-1 is now known as al",
    );
    expect(formatEvent({ type: "private", from: "al", to: "bo", text: "psst", ts: 0 })).toBe("*al* psst");
    expect(formatEvent({ type: "error", code: "NICK_TAKEN", message: "taken" })).toBe("! taken [NICK_TAKEN]");
    expect(formatEvent({ type: "notice", kind: "operator", text: "hello", ts: 0 })).toBe("<server> hello");
    expect(formatEvent({ type: "notice", kind: "info", text: "a\nb", ts: 0 })).toBe("* a\n* b");
    expect(formatEvent({ type: "who", room: "#x", nicks: ["a", "b"] })).toBe("* in #x: a, b");
    expect(formatEvent({ type: "rooms", rooms: [{ name: "#x", clients: 2 }] })).toBe("* rooms: #x (2)");
  });
});
