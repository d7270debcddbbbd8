import { formatHostPort } from "@netlab/core";
import { ScriptError } from "./errors.js";
import type { LabControls, LabSnapshot, LogLine } from "./model.js";
import type { Step } from "./script.js";
import { screenText } from "./text.js";

/** Options for {@link playScript}. */
export interface PlayOptions {
  /** How long an `expect` waits for its text, in ms. Default 3000. */
  expectTimeoutMs?: number;
  /** Called before each step, e.g. to log progress. */
  onStep?: (step: Step) => void;
  signal?: AbortSignal;
}

/**
 * Plays `steps` against a running lab, in order. `expect` waits (up to `expectTimeoutMs`) for text
 * to appear in a pane and throws EXPECT_FAILED if it never does; a step naming a client that does not
 * exist throws NO_SUCH_CLIENT.
 * @example await playScript(lab, parseScript("client 1: hi\nexpect client 2: hi").steps);
 */
export async function playScript(
  lab: LabControls,
  steps: readonly Step[],
  opts: PlayOptions = {},
): Promise<void> {
  const expectTimeoutMs = opts.expectTimeoutMs ?? 3000;
  for (const step of steps) {
    opts.signal?.throwIfAborted();
    opts.onStep?.(step);
    switch (step.kind) {
      case "send":
        requireClient(lab, step.line, step.client);
        lab.send(step.client, step.text);
        break;
      case "wait":
        await delay(step.ms, opts.signal);
        break;
      case "expect": {
        if (step.target !== "server") requireClient(lab, step.line, step.target);
        const seen = await waitFor(
          lab,
          (s) => paneLines(s, step.target).some((l) => l.text.includes(step.text)),
          expectTimeoutMs,
          opts.signal,
        );
        if (!seen) {
          const pane = step.target === "server" ? "the server log" : `client ${step.target}`;
          throw new ScriptError(
            "EXPECT_FAILED",
            step.line,
            `${pane} never showed "${step.text}" within ${expectTimeoutMs} ms`,
            "the transcripts above show what each pane did see",
          );
        }
        break;
      }
      case "restart":
        await lab.restartServer();
        break;
      case "add":
        await lab.addClient();
        break;
      case "drop":
        requireClient(lab, step.line, step.client);
        await lab.dropClient(step.client);
        break;
      case "reconnect":
        requireClient(lab, step.line, step.client);
        await lab.reconnectClient(step.client);
        break;
      case "clients":
        break;
    }
  }
}

/** The lines of one pane: a client's transcript or the server log. */
export function paneLines(snapshot: LabSnapshot, target: number | "server"): readonly LogLine[] {
  if (target === "server") return snapshot.server.log;
  return snapshot.clients[target - 1]?.transcript ?? [];
}

/**
 * Resolves true as soon as `predicate` holds for the lab's snapshot, false after `timeoutMs`.
 * Checked on every change notification, so it costs nothing while the lab is quiet.
 */
export function waitFor(
  lab: LabControls,
  predicate: (s: LabSnapshot) => boolean,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<boolean> {
  if (predicate(lab.getSnapshot())) return Promise.resolve(true);
  return new Promise((resolve, reject) => {
    const finish = (value: boolean) => {
      clearTimeout(timer);
      unsubscribe();
      signal?.removeEventListener("abort", onAbort);
      resolve(value);
    };
    const onAbort = () => {
      clearTimeout(timer);
      unsubscribe();
      reject(signal?.reason);
    };
    const timer = setTimeout(() => finish(predicate(lab.getSnapshot())), timeoutMs);
    const unsubscribe = lab.subscribe(() => {
      if (predicate(lab.getSnapshot())) finish(true);
    });
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Resolves once the lab has been quiet (no change) for `quietMs`, or after `maxMs` in any case:
 * lets in-flight messages land before the transcripts are printed.
 */
export function settle(lab: LabControls, quietMs = 150, maxMs = 2000): Promise<void> {
  return new Promise((resolve) => {
    let quiet: NodeJS.Timeout;
    const done = () => {
      clearTimeout(quiet);
      clearTimeout(cap);
      unsubscribe();
      resolve();
    };
    const cap = setTimeout(done, maxMs);
    const unsubscribe = lab.subscribe(() => {
      clearTimeout(quiet);
      quiet = setTimeout(done, quietMs);
    });
    quiet = setTimeout(done, quietMs);
  });
}

/** Every pane as plain text: the server log, then each client's transcript, headed by its title. */
export function formatTranscripts(snapshot: LabSnapshot): string {
  const s = snapshot.server;
  const parts = [`== server ${formatHostPort(s.host, s.port)} (${s.status}) ==`, ...s.log.map((l) => l.text)];
  for (const c of snapshot.clients) {
    parts.push("", `== client ${c.id} ${c.nick} (${c.state}) ==`, ...c.transcript.map((l) => l.text));
  }
  // Read by a person (a CI log is a terminal too): shown, never obeyed.
  return `${parts.map(screenText).join("\n")}\n`;
}

function requireClient(lab: LabControls, line: number, id: number): void {
  const count = lab.getSnapshot().clients.length;
  if (id > count) {
    throw new ScriptError(
      "NO_SUCH_CLIENT",
      line,
      `there is no client ${id} (there ${count === 1 ? "is 1" : `are ${count}`})`,
      "start with more (--clients or `clients N`), or `add client` first",
    );
  }
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
