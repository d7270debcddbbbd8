import { type Conn, WaitTimeout } from "../conn.js";
import { fail } from "../failure.js";
import { showBytes } from "../hex.js";
import { word } from "../random.js";
import type { CheckTest, Profile, TestContext } from "../types.js";

/**
 * The two chats the profile knows: netlab's text protocol (`* netlab chat/1 …` greeting, `/nick`,
 * `<nick> text`) and Protohackers' budget chat (a name prompt, then `[name] text`). `prepare`
 * tells them apart by the greeting.
 */
type Dialect = "netlab" | "budget";

/** One chat client in a test: its connection and every line it has read. */
class Member {
  readonly log: string[] = [];
  /** Where the next {@link waitLine} starts scanning in `log`. */
  next = 0;
  aliases: string[];

  constructor(
    readonly conn: Conn,
    public name: string,
  ) {
    this.aliases = name ? [name] : [];
  }

  /** Reads lines until one satisfies `pred` (scanning from `next`); returns its index in `log`. */
  async waitLine(pred: (line: string) => boolean, timeoutMs: number, what: string): Promise<number> {
    for (;;) {
      while (this.next < this.log.length) {
        const i = this.next++;
        if (pred(this.log[i] as string)) return i;
      }
      const start = this.conn.pos;
      const raw = await this.conn.readLine(timeoutMs, what);
      if (raw === undefined) {
        fail({
          expected: what,
          observed: `${this.conn.label}'s connection ${this.conn.end === "reset" ? "was reset" : "ended"} first`,
          conn: this.conn,
          at: start,
        });
      }
      const text = raw.toString("utf8");
      this.log.push(text.endsWith("\r") ? text.slice(0, -1) : text);
    }
  }

  say(text: string, eol = "\n"): Promise<void> {
    return this.conn.write(`${text}${eol}`);
  }
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const hasWord = (line: string, w: string) =>
  new RegExp(`(^|[^A-Za-z0-9_-])${escapeRe(w)}($|[^A-Za-z0-9_-])`).test(line);
const LEAVE = /\b(left|leav|quit|exit|part|disconnect|gone)/i;
const JOIN = /\b(enter|join|arriv|came)/i;

function isLeave(line: string, m: Member): boolean {
  return line.startsWith("*") && LEAVE.test(line) && m.aliases.some((a) => hasWord(line, a));
}

function isJoin(line: string, m: Member): boolean {
  return (
    line.startsWith("*") && !LEAVE.test(line) && JOIN.test(line) && m.aliases.some((a) => hasWord(line, a))
  );
}

/** `<name> text` (netlab) or `[name] text` (budget chat), exactly. */
function isMessage(line: string, from: Member, text: string): boolean {
  return line === `<${from.name}> ${text}` || line === `[${from.name}] ${text}`;
}

function dialect(ctx: TestContext): Dialect {
  return ctx.state.dialect as Dialect;
}

/** A fresh name for this test: letters only, so every chat accepts it. */
function newName(ctx: TestContext, prefix: string): string {
  return `${prefix}${word(ctx.random, 5)}`;
}

/** Connects and reads the greeting (1 s: the lesson of chat.greeting). */
const FLOOD_HINT =
  "the server's flood control stopped the test; run it with flood control off (lab server --flood 0)";

/** The flood-control notice the server sent `m` (read or still unread), if any. */
function floodNotice(m: Member): string | undefined {
  return m.log
    .concat(m.conn.received.subarray(m.conn.pos).toString("utf8").split("\n"))
    .find((l) => /slow down|flood/i.test(l));
}

async function connect(ctx: TestContext, label: string): Promise<{ m: Member; greeting: string }> {
  const conn = await ctx.open(label);
  const m = new Member(conn, "");
  await m.waitLine(() => true, 2_000, `${label}'s greeting`);
  return { m, greeting: m.log[0] as string };
}

/** Connects, takes `name`, and waits until the server confirms it. */
async function join(ctx: TestContext, label: string, name: string, eol = "\n"): Promise<Member> {
  const { m, greeting } = await connect(ctx, label);
  if (dialect(ctx) === "netlab") {
    const guest = /you are (\S+?)\./.exec(greeting)?.[1];
    if (guest) m.aliases.push(guest);
    await m.say(`/nick ${name}`, eol);
    const i = await m.waitLine(
      (l) => l.includes(`is now known as ${name}`) || l.startsWith("!"),
      2_000,
      `${label} to be called ${name}`,
    );
    if ((m.log[i] as string).startsWith("!"))
      fail({ expected: `the name ${name} to be accepted`, observed: m.log[i] as string, conn: m.conn });
  } else {
    await m.say(name, eol);
    // Budget chat answers a good name with the room's member list.
    await m.waitLine(() => true, 2_000, `the server's answer to ${label}'s name ${name}`);
  }
  m.name = name;
  m.aliases.push(name);
  return m;
}

/**
 * Tries a name the server must refuse. netlab: an `!` error line must come back instead of the
 * rename. Budget chat: an observer in the room must see neither a join for it nor a message the
 * refused client sends; a later joiner's announcement bounds the wait, so absence is never a sleep.
 */
async function expectRefused(ctx: TestContext, name: string, what: string): Promise<void> {
  if (dialect(ctx) === "netlab") {
    const { m } = await connect(ctx, "newcomer");
    await m.say(`/nick ${name}`);
    const i = await m.waitLine(
      (l) => l.startsWith("!") || l.includes("is now known as"),
      2_000,
      `an error for ${what}`,
    );
    if (!(m.log[i] as string).startsWith("!")) {
      fail({ expected: `${what} refused with an error`, observed: m.log[i] as string, conn: m.conn });
    }
    return;
  }
  const x = await join(ctx, "observer", newName(ctx, "obs"));
  const from = x.log.length;
  const { m } = await connect(ctx, "newcomer");
  await m.say(name);
  const probe = `probe${word(ctx.random, 8)}`;
  const answered = await m.conn
    .waitFor(
      "an answer to the name",
      () => (m.conn.received.length > m.conn.pos || m.conn.end !== "open" ? true : undefined),
      1_000,
    )
    .catch(() => false);
  if (m.conn.end === "open") await m.say(probe).catch(() => {});
  const marker = await join(ctx, "marker", newName(ctx, "mark"));
  const at = await x.waitLine(
    (l) => isJoin(l, marker),
    2_000,
    `the observer to see the marker ${marker.name} join`,
  );
  const seen = x.log.slice(from, at);
  // A join announcement about anyone but the observer and the marker is the refused name's.
  const leak = seen.find(
    (l) =>
      (l.startsWith("*") && JOIN.test(l) && !LEAVE.test(l) && !isJoin(l, x) && !isJoin(l, marker)) ||
      l.includes(probe),
  );
  if (leak !== undefined) {
    fail({
      expected: `${what} refused (no join announced, nothing it says broadcast)`,
      observed: `the room saw ${JSON.stringify(leak.length > 80 ? `${leak.slice(0, 80)}…` : leak)}${answered ? "" : " (the newcomer got no answer)"}`,
      conn: x.conn,
    });
  }
}

const tests: CheckTest[] = [
  {
    id: "chat.greeting",
    title: "a new client gets a first line (greeting or name prompt) within 1 s",
    timeoutMs: 3_000,
    hint: "send the greeting as soon as the connection is accepted, before waiting for input",
    async run(ctx) {
      const conn = await ctx.open("client");
      const line = await conn.readLine(1_000, "a greeting");
      if (line === undefined)
        fail({ expected: "a greeting within 1 s", observed: `the connection ${conn.end} first`, conn });
    },
  },
  {
    id: "chat.name-empty",
    title: "an empty name is refused",
    timeoutMs: 6_000,
    hint: "check the name before joining: at least one character, letters and digits",
    run: (ctx) => expectRefused(ctx, "", "the empty name"),
  },
  {
    id: "chat.name-too-long",
    title: "a 1,000-character name is refused",
    timeoutMs: 6_000,
    hint: "cap name length (budget chat must allow 16; netlab allows 32)",
    run: (ctx) => expectRefused(ctx, "n".repeat(1_000), "a 1,000-character name"),
  },
  {
    id: "chat.name-duplicate",
    title: "a name already in the room is refused",
    timeoutMs: 6_000,
    hint: "keep the set of names in use (under a lock) and refuse one that is taken",
    async run(ctx) {
      const x = await join(ctx, "first", newName(ctx, "dup"));
      // Watched by a third member: the first holder's own join may echo back to it on a buggy server.
      await expectRefused(ctx, x.name, `a second ${x.name}`);
    },
  },
  {
    id: "chat.broadcast",
    title: "a message reaches every other member",
    timeoutMs: 6_000,
    hint: "loop over every other client's socket and send the line to each",
    async run(ctx) {
      const a = await join(ctx, "A", newName(ctx, "a"));
      const b = await join(ctx, "B", newName(ctx, "b"));
      const c = await join(ctx, "C", newName(ctx, "c"));
      const text = `hello ${word(ctx.random, 8)}`;
      await a.say(text);
      for (const m of [b, c])
        await m.waitLine((l) => isMessage(l, a, text), 2_000, `${m.conn.label} to get A's message "${text}"`);
    },
  },
  {
    id: "chat.not-to-sender",
    title: "a message is not sent back to its sender",
    timeoutMs: 6_000,
    hint: "skip the sender when broadcasting (compare connections, not names)",
    async run(ctx) {
      const a = await join(ctx, "A", newName(ctx, "a"));
      const b = await join(ctx, "B", newName(ctx, "b"));
      const mine = `mine ${word(ctx.random, 8)}`;
      const theirs = `theirs ${word(ctx.random, 8)}`;
      const from = a.log.length;
      await a.say(mine);
      await b.waitLine((l) => isMessage(l, a, mine), 2_000, `B to get A's message`);
      await b.say(theirs);
      const at = await a.waitLine((l) => isMessage(l, b, theirs), 2_000, `A to get B's later message`);
      const echoed = a.log.slice(from, at).find((l) => l.includes(mine));
      if (echoed !== undefined) {
        fail({
          expected: "A not to get its own message back",
          observed: `A got ${JSON.stringify(echoed)}`,
          conn: a.conn,
        });
      }
    },
  },
  {
    id: "chat.join-leave-once",
    title: "a join and a leave are each announced to the others exactly once",
    timeoutMs: 6_000,
    hint: "announce the leave in one place (the handler's finally/finish), and only if the client had joined",
    async run(ctx) {
      const x = await join(ctx, "observer", newName(ctx, "obs"));
      const from = x.log.length;
      const y = await join(ctx, "visitor", newName(ctx, "vis"));
      await x.waitLine((l) => isJoin(l, y), 2_000, `the observer to see ${y.name} join`);
      y.conn.destroy();
      await x.waitLine((l) => isLeave(l, y), 2_000, `the observer to see ${y.name} leave`);
      const marker = await join(ctx, "marker", newName(ctx, "mark"));
      const at = await x.waitLine((l) => isJoin(l, marker), 2_000, `the observer to see ${marker.name} join`);
      const seen = x.log.slice(from, at);
      const joins = seen.filter((l) => isJoin(l, y)).length;
      const leaves = seen.filter((l) => isLeave(l, y)).length;
      if (joins !== 1 || leaves !== 1) {
        fail({
          expected: `one join and one leave for ${y.name}`,
          observed: `${joins} join and ${leaves} leave announcements: ${JSON.stringify(seen.filter((l) => isJoin(l, y) || isLeave(l, y)))}`,
          conn: x.conn,
        });
      }
    },
  },
  {
    id: "chat.order-1000",
    title: "1,000 messages from one sender arrive at another member all, and in order",
    timeoutMs: 12_000,
    hint: "one writer per socket at a time (a lock or a queue per client); never drop or reorder lines",
    async run(ctx) {
      const a = await join(ctx, "A", newName(ctx, "a"));
      const b = await join(ctx, "B", newName(ctx, "b"));
      const tag = word(ctx.random, 6);
      const texts = Array.from({ length: 1_000 }, (_, i) => `${tag} ${String(i).padStart(4, "0")}`);
      const writing = a.conn.write(`${texts.join("\n")}\n`);
      const got: number[] = [];
      const prefixes = [`<${a.name}> ${tag} `, `[${a.name}] ${tag} `];
      try {
        while (got.length < texts.length) {
          const i = await b.waitLine(
            (l) => prefixes.some((p) => l.startsWith(p)),
            3_000,
            `message ${got.length + 1} of 1,000 at B`,
          );
          const line = b.log[i] as string;
          got.push(Number(line.slice(line.lastIndexOf(" ") + 1)));
        }
      } catch (err) {
        const flood = floodNotice(a);
        if (flood) {
          fail({
            expected: "1,000 messages at B",
            observed: `${got.length}, and the sender was told ${JSON.stringify(flood)}`,
            hint: FLOOD_HINT,
            conn: a.conn,
          });
        }
        throw err;
      }
      await writing;
      const wrong = got.findIndex((n, i) => n !== i);
      if (wrong >= 0)
        fail({
          expected: `message ${wrong} as the ${wrong + 1}th`,
          observed: `message ${got[wrong]}`,
          conn: b.conn,
        });
    },
  },
  {
    id: "chat.slow-reader",
    title: "a member that stops reading delays nobody else by more than 500 ms",
    timeoutMs: 15_000,
    hint: "never block the broadcast on one client's sendall(): a bounded queue and writer per client, and drop a client whose queue is full",
    async run(ctx) {
      const s = await join(ctx, "S (stops reading)", newName(ctx, "slow"));
      s.conn.pause();
      const a = await join(ctx, "A", newName(ctx, "a"));
      const b = await join(ctx, "B", newName(ctx, "b"));
      const tag = word(ctx.random, 6);
      const pad = "x".repeat(32 * 1024);
      for (let i = 0; i < 400; i++) {
        const text = `${tag} ${i} ${pad}`;
        await a.say(text);
        const sentAt = performance.now();
        await b
          .waitLine((l) => isMessage(l, a, text), 1_500, `message ${i} at B`)
          .catch((err) => {
            if (!(err instanceof WaitTimeout)) throw err;
            // Flood control drops the message: not a room blocked by S, and the usual hint would mislead.
            const flood = floodNotice(a);
            if (flood) {
              fail({
                expected: "each message at B within 500 ms",
                observed: `message ${i} never reached B, and the sender was told ${JSON.stringify(flood)}`,
                hint: FLOOD_HINT,
                conn: a.conn,
              });
            }
            fail({
              expected: "each message at B within 500 ms",
              observed: `message ${i} had not reached B after ${Math.round(performance.now() - sentAt)} ms (${((i * pad.length) / 1048576).toFixed(1)} MiB sent while S read nothing)`,
              conn: b.conn,
            });
          });
        const waited = performance.now() - sentAt;
        if (waited > 500) {
          fail({
            expected: "each message at B within 500 ms",
            observed: `message ${i} took ${Math.round(waited)} ms (${((i * pad.length) / 1048576).toFixed(1)} MiB sent while S read nothing)`,
            conn: b.conn,
          });
        }
      }
    },
  },
  {
    id: "chat.crlf",
    title: "a client ending lines with CRLF (telnet) shows up without stray CRs in names or messages",
    timeoutMs: 6_000,
    hint: "strip \\r\\n (not just \\n) from every line, the name included",
    async run(ctx) {
      const x = await join(ctx, "observer", newName(ctx, "obs"));
      const from = x.log.length;
      const y = await join(ctx, "telnet user", newName(ctx, "tel"), "\r\n");
      const text = `crlf ${word(ctx.random, 8)}`;
      await y.say(text, "\r\n");
      const at = await x.waitLine(
        (l) => l.includes(text),
        2_000,
        `the observer to get the telnet user's message`,
      );
      const seen = x.log.slice(from, at + 1);
      const bad = seen.find((l) => l.includes("\r"));
      const line = x.log[at] as string;
      if (bad !== undefined || !isMessage(line, y, text)) {
        const shown = bad ?? line;
        fail({
          expected: `the message as ${JSON.stringify(`[${y.name}] ${text}`)} (or <${y.name}>), no CR inside any line`,
          observed: showBytes(Buffer.from(shown), 80),
          conn: x.conn,
        });
      }
    },
  },
];

/** `chat`: netlab's text chat or a Protohackers budget chat, told apart by the greeting. */
export const chatProfile: Profile = {
  name: "chat",
  summary: "a chat server: netlab's text protocol, or budget chat (name prompt, [name] text)",
  tests,
  async prepare(ctx) {
    const conn = await ctx.open("probe");
    const line = await conn.readLine(2_000, "a greeting");
    if (line === undefined)
      fail({ expected: "a greeting line", observed: `the connection ${conn.end}`, conn });
    return {
      dialect: (line.toString("utf8").includes("netlab chat/1") ? "netlab" : "budget") satisfies Dialect,
    };
  },
};
