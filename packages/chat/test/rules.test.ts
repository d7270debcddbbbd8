import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ASCII_PROTOTYPES, prototypes } from "../src/confusables.js";
import {
  ChatError,
  checkNick,
  checkRoom,
  clockTime,
  FloodControl,
  formatEvent,
  History,
  isReservedNick,
  lookalikeKey,
  NickRegistry,
  nickKey,
  parseInput,
  skeleton,
  textLine,
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

describe("#13: nicks unique as people read them", () => {
  it("keys nicks by NFKC and case folding: Alice, alice, ａｌｉｃｅ, ALICE are one", () => {
    for (const n of ["Alice", "alice", "ａｌｉｃｅ", "ALICE", "𝐚𝐥𝐢𝐜𝐞"]) expect(nickKey(n), n).toBe("alice");
    expect(nickKey("Straße")).toBe(nickKey("STRASSE"));
    expect(nickKey("ΣΟΦΟΣ")).toBe(nickKey("σοφος"));
  });

  it("gives look-alikes one skeleton (UTS #39): Cyrillic, Greek, digits, fullwidth, math letters", () => {
    expect(skeleton("\u0455erver")).toBe(skeleton("server"));
    expect(lookalikeKey("b0b")).toBe(lookalikeKey("bob"));
    expect(lookalikeKey("p\u0430ypal")).toBe(lookalikeKey("paypal"));
    expect(lookalikeKey("\u03bfmega")).toBe(lookalikeKey("omega"));
    expect(lookalikeKey("guest-1")).toBe(lookalikeKey("guest-l"));
    expect(lookalikeKey("bob")).not.toBe(lookalikeKey("rob"));
    expect(lookalikeKey("jürgen")).not.toBe(lookalikeKey("jurgen"));
  });

  it("skeletons ASCII without the table exactly as the table would", () => {
    const table = prototypes();
    for (let code = 0x20; code < 0x7f; code++) {
      const ch = String.fromCharCode(code);
      const proto = table.get(ch);
      if (ch === "%") expect(proto).toMatch(/[^\x00-\x7f]/);
      else expect(ASCII_PROTOTYPES[ch], ch).toBe(proto);
    }
    const slow = (s: string) => [...s].map((ch) => table.get(ch) ?? ch).join("");
    fc.assert(
      fc.property(fc.string({ unit: "grapheme-ascii", maxLength: 20 }), (s) => {
        expect(skeleton(s)).toBe(slow(s).normalize("NFD"));
      }),
    );
  });

  it("refuses reserved names and their look-alikes, in any case", () => {
    for (const n of [
      "server",
      "SERVER",
      "Server",
      "\u0455erver",
      "\u0405ERVER",
      "ｓｅｒｖｅｒ",
      "𝐬𝐞𝐫𝐯𝐞𝐫",
      "s\u0435rv\u0435r",
      "the",
      "netlab",
    ]) {
      expect(isReservedNick(n), n).toBe(true);
      expect(() => checkNick(n), n).toThrow(expect.objectContaining({ code: "NICK_INVALID" }));
    }
    expect(isReservedNick("servers")).toBe(false);
    expect(isReservedNick("Iab", ["lab"])).toBe(true);
  });

  it("refuses control, bidi and invisible characters in nicks and rooms, showing them", () => {
    expect(() => checkNick("a\x1bb")).toThrow(
      'nick "a^[b" is not allowed: it contains control or text-direction',
    );
    expect(() => checkNick("bob\u202e")).toThrow('"bob<U+202E>"');
    expect(() => checkNick("\u3164")).toThrow("invisible");
    expect(() => checkRoom("#a\u2066b")).toThrow(expect.objectContaining({ code: "ROOM_INVALID" }));
    expect(() => checkRoom("#\u3164")).toThrow("invisible");
  });

  it("a registry refuses a nick held by another (same key or look-alike) and frees it on release", () => {
    const nicks = new NickRegistry<string>(["mychat"]);
    nicks.claim("a", "Alice");
    expect(() => nicks.claim("b", "alice")).toThrow(expect.objectContaining({ code: "NICK_TAKEN" }));
    expect(() => nicks.claim("b", "\u0430lice")).toThrow('looks too much like "Alice"');
    expect(() => nicks.claim("b", "MyChat")).toThrow(expect.objectContaining({ code: "NICK_INVALID" }));
    expect(nicks.get("ALICE")).toBe("a");
    nicks.claim("a", "ALICE", "Alice"); // a re-cases her own nick
    nicks.release("a", "ALICE");
    expect(nicks.get("alice")).toBeUndefined();
    nicks.claim("b", "alice");
    expect(nicks.get("Alice")).toBe("b");
  });

  it("never hands out a guest name someone holds", () => {
    const nicks = new NickRegistry<string>();
    nicks.claim("a", "guest-2");
    nicks.claim("b", "guest-2-2");
    expect(nicks.guest("c", 2)).toBe("guest-2-3");
    expect(nicks.guest("d", 3)).toBe("guest-3");
    expect(() => nicks.claim("e", "GUEST-3")).toThrow(expect.objectContaining({ code: "NICK_TAKEN" }));
  });
});

describe("#13: textLine (what an nc user receives)", () => {
  const message = (text: string, from = "eve") => ({
    type: "message" as const,
    id: 1,
    room: "#lobby",
    from,
    text,
    ts: 0,
  });

  it("shows every control and bidi character in peer text, cat -v style, on one line", () => {
    expect(textLine(message("hi \x1b]0;PWNED\x07\x1b[2J\r* server is shutting down")).toString()).toBe(
      "<eve> hi ^[]0;PWNED^G^[[2J^M* server is shutting down\n",
    );
    expect(textLine(message("a\nb\u0085\u202e\u2029")).toString()).toBe(
      "<eve> a^Jb<U+0085><U+202E><U+2029>\n",
    );
  });

  it("escapes every field, errors and lists included, and keeps the server's multi-line notices", () => {
    expect(textLine({ type: "who", room: "#lobby", nicks: ["a\x1b", "b"] }).toString()).toBe(
      "* in #lobby: a^[, b\n",
    );
    expect(textLine({ type: "error", code: "X", message: "no \x07" }).toString()).toBe("! no ^G [X]\n");
    expect(textLine({ type: "notice", kind: "info", text: "a\nb\x1b", ts: 0 }).toString()).toBe(
      "* a\n* b^[\n",
    );
    expect(textLine({ type: "notice", kind: "operator", text: "a\nb", ts: 0 }).toString()).toBe(
      "<server> a^Jb\n",
    );
  });

  it("never lets any text put a live control byte on the wire", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 40 }), (text) => {
        const out = textLine(message(text)).toString();
        expect(out.slice(0, -1)).not.toMatch(
          /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029]/,
        );
      }),
    );
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

describe("#20: history lines", () => {
  const said = new Date(2026, 11, 6, 12, 3).getTime();
  const event = { type: "message", id: 1, room: "#lobby", from: "alice", text: "hi", ts: said } as const;

  it("show the time they were said and (history) when asked, and only history lines", () => {
    const now = new Date(2026, 11, 6, 15, 0).getTime();
    expect(clockTime(said, now)).toBe("12:03");
    expect(clockTime(said, now + 86_400_000)).toBe("2026-12-06 12:03");
    expect(clockTime(Number.NaN)).toBe("--:--");
    expect(formatEvent({ ...event, history: true }, undefined, { markHistory: true })).toBe(
      `[${clockTime(said)}] (history) <alice> hi`,
    );
    expect(formatEvent(event, undefined, { markHistory: true })).toBe("<alice> hi");
    // The server's text mode (no markHistory) sends history as it always did.
    expect(formatEvent({ ...event, history: true })).toBe("<alice> hi");
  });

  it("are escaped like live ones", () => {
    const line = formatEvent({ ...event, text: "\x1b]0;PWNED\x07", history: true }, undefined, {
      markHistory: true,
      escape: true,
    });
    expect(line).toBe(`[${clockTime(said)}] (history) <alice> ^[]0;PWNED^G`);
  });
});

describe("#20: unknown commands", () => {
  it("#20: suggests the closest command, in the message a chat line shows", () => {
    expect(() => parseInput("/hwo")).toThrow("unknown command /hwo: did you mean /who?");
    expect(() => parseInput("/jion #x")).toThrow("unknown command /jion: did you mean /join?");
    expect(() => parseInput("/qiut")).toThrow("unknown command /qiut: did you mean /quit?");
    expect(() => parseInput("/frobnicate")).toThrow(/^unknown command \/frobnicate$/);
  });
});
