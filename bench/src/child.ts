import { type ChildProcess, spawn } from "node:child_process";
import * as net from "node:net";

/** Reads a child's stdout one line at a time: the port it prints, then its answers to questions. */
export interface LineReader {
  /** The next line, waiting at most `timeoutMs` for it. */
  next(timeoutMs: number): Promise<string>;
}

/** A {@link LineReader} over `child`'s stdout; `what` names the child in the timeout error. */
export function lineReader(child: ChildProcess, what: string): LineReader {
  let buffer = "";
  const waiting: Array<(line: string) => void> = [];
  const ready: string[] = [];
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    buffer += d;
    for (let nl = buffer.indexOf("\n"); nl !== -1; nl = buffer.indexOf("\n")) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      const w = waiting.shift();
      if (w) w(line);
      else ready.push(line);
    }
  });
  return {
    next(timeoutMs) {
      const line = ready.shift();
      if (line !== undefined) return Promise.resolve(line);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${what} did not answer`)), timeoutMs);
        waiting.push((l) => {
          clearTimeout(timer);
          resolve(l);
        });
      });
    },
  };
}

/**
 * The child's side of a {@link LineReader}: each line of stdin is a question, and `answer`'s reply
 * (none when it returns undefined) goes to stdout as a line; the process exits when stdin ends.
 */
export function answerStdin(answer: (question: string) => string | undefined): void {
  let buffer = "";
  process.stdin.setEncoding("utf8").on("data", (d: string) => {
    buffer += d;
    for (let nl = buffer.indexOf("\n"); nl !== -1; nl = buffer.indexOf("\n")) {
      const reply = answer(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
      if (reply !== undefined) process.stdout.write(`${reply}\n`);
    }
  });
  process.stdin.on("end", () => process.exit(0));
}

/** Kills `child` with SIGKILL and resolves once it has exited (at once if it already has). */
export async function killChild(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  child.kill("SIGKILL");
  await exited;
}

/** A connected TCP socket to 127.0.0.1:`port` with Nagle off. */
export function connectLocal(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port, noDelay: true });
    socket.once("connect", () => resolve(socket));
    socket.once("error", reject);
  });
}

/** Resolves after `ms` (between measured phases; never in place of waiting for a condition). */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Spawns and resolves once stdout or stderr matches `pattern` (10 s at most). */
export function spawnReady(
  cmd: string,
  args: string[],
  pattern: RegExp,
): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    let text = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${cmd} did not start in 10 s:\n${text}`));
    }, 10_000);
    const onData = (d: Buffer) => {
      text += d.toString();
      const match = pattern.exec(text);
      if (match) {
        clearTimeout(timer);
        child.stdout?.off("data", onData);
        child.stderr?.off("data", onData);
        resolve({ child, match });
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} exited ${code} before it was ready:\n${text}`));
    });
  });
}
