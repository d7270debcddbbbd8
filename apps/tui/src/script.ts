import { ScriptError } from "./errors.js";
import { MAX_CLIENTS } from "./model.js";

/**
 * One step of a demo script. The language, one command a line (`#` starts a comment):
 *
 * ```text
 * clients 3                 how many clients to start with (first command only; 1..6)
 * client 2: hello           type "hello" in client 2 and press Enter (/commands work too)
 * wait 100                  pause 100 ms
 * expect client 3: hello    wait until client 3's transcript shows "hello"; fail the script if it never does
 * expect server: joined     the same for the server's event log
 * restart server            close the server (clients see the outage) and listen again on the same port
 * add client                add a client (up to 6) and connect it
 * drop client 1             close client 1's connection (its pane stays)
 * reconnect client 1        connect a dropped client again
 * ```
 */
export type Step =
  | { line: number; kind: "clients"; count: number }
  | { line: number; kind: "send"; client: number; text: string }
  | { line: number; kind: "wait"; ms: number }
  | { line: number; kind: "expect"; target: number | "server"; text: string }
  | { line: number; kind: "restart" }
  | { line: number; kind: "add" }
  | { line: number; kind: "drop"; client: number }
  | { line: number; kind: "reconnect"; client: number };

/** Longest `wait`, in ms: a script pauses, it does not sleep for minutes. */
export const MAX_WAIT_MS = 60_000;

/** A parsed script: its steps and the client count it asks for, if any. */
export interface Script {
  steps: Step[];
  clients: number | undefined;
}

/**
 * Parses a demo script. Throws a BAD_SCRIPT {@link ScriptError} naming the first bad line.
 * @example parseScript("client 1: hi\nexpect client 2: hi\n").steps.length // 2
 */
export function parseScript(text: string): Script {
  const steps: Step[] = [];
  let clients: number | undefined;
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = index + 1;
    const src = stripComment(raw).trim();
    if (src === "") return;
    const step = parseLine(src, line);
    if (step.kind === "clients") {
      if (steps.length > 0 || clients !== undefined) {
        throw new ScriptError("BAD_SCRIPT", line, `"clients" must come before every other command`);
      }
      clients = step.count;
      return;
    }
    steps.push(step);
  });
  return { steps, clients };
}

/** A `#` starts a comment at the start of a line or after a space; `#lobby` in a message is kept. */
function stripComment(line: string): string {
  if (line.trimStart().startsWith("#")) return "";
  // Messages are free text, so comments after one would eat "#rooms"; only plain commands take them.
  if (/^\s*(client|expect)\b/.test(line)) return line;
  const at = line.indexOf(" #");
  return at >= 0 ? line.slice(0, at) : line;
}

function parseLine(src: string, line: number): Step {
  const send = /^client\s+([^\s:]+)\s*:\s?(.*)$/.exec(src);
  if (send) {
    const m = send;
    const text = m[2] ?? "";
    if (text.trim() === "")
      throw new ScriptError("BAD_SCRIPT", line, `nothing to type after "client ${m[1]}:"`);
    return { line, kind: "send", client: clientNumber(m[1]!, line), text };
  }
  const expectation = /^expect\s+(client\s+([^\s:]+)|server)\s*:\s?(.*)$/.exec(src);
  if (expectation) {
    const m = expectation;
    const text = m[3] ?? "";
    if (text.trim() === "") throw new ScriptError("BAD_SCRIPT", line, "expect needs text to look for");
    const target = m[1] === "server" ? "server" : clientNumber(m[2]!, line);
    return { line, kind: "expect", target, text };
  }
  const words = src.split(/\s+/);
  const [a, b, c, ...rest] = words;
  const noMore = (n: number) => {
    if (words.length > n)
      throw new ScriptError("BAD_SCRIPT", line, `unexpected "${words.slice(n).join(" ")}"`);
  };
  switch (a) {
    case "clients": {
      noMore(2);
      const count = integer(b, line, "clients");
      if (count < 1 || count > MAX_CLIENTS) {
        throw new ScriptError("BAD_SCRIPT", line, `clients must be 1..${MAX_CLIENTS}, got ${count}`);
      }
      return { line, kind: "clients", count };
    }
    case "wait": {
      noMore(2);
      const ms = integer(b?.replace(/ms$/, ""), line, "wait");
      if (ms > MAX_WAIT_MS) throw new ScriptError("BAD_SCRIPT", line, `wait is at most ${MAX_WAIT_MS} ms`);
      return { line, kind: "wait", ms };
    }
    case "restart":
      if (b !== "server" || c !== undefined) throw bad(line, src, "restart server");
      return { line, kind: "restart" };
    case "add":
      if (b !== "client" || c !== undefined) throw bad(line, src, "add client");
      return { line, kind: "add" };
    case "drop":
    case "reconnect":
      if (b !== "client" || c === undefined || rest.length > 0) throw bad(line, src, `${a} client N`);
      return { line, kind: a, client: clientNumber(c, line) };
    default:
      throw new ScriptError(
        "BAD_SCRIPT",
        line,
        `unknown command "${a}"`,
        "commands: clients N, client N: TEXT, wait MS, expect client N: TEXT, expect server: TEXT, restart server, add client, drop client N, reconnect client N (docs/demo.md)",
      );
  }
}

function clientNumber(word: string, line: number): number {
  const n = integer(word, line, "client");
  if (n < 1 || n > MAX_CLIENTS) {
    throw new ScriptError("BAD_SCRIPT", line, `client numbers are 1..${MAX_CLIENTS}, got ${word}`);
  }
  return n;
}

function integer(word: string | undefined, line: number, what: string): number {
  if (word === undefined || !/^\d+$/.test(word)) {
    throw new ScriptError(
      "BAD_SCRIPT",
      line,
      `${what} needs a whole number${word === undefined ? "" : `, got "${word}"`}`,
    );
  }
  return Number(word);
}

function bad(line: number, src: string, expected: string): ScriptError {
  return new ScriptError("BAD_SCRIPT", line, `"${src}" is not a command; did you mean "${expected}"?`);
}
