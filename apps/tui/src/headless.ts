import { type ChatFactory, LabController } from "./controller.js";
import { chatSceneFactory } from "./demo.js";
import type { LabSnapshot } from "./model.js";
import { formatTranscripts, playScript, settle, waitFor } from "./player.js";
import { parseScript, type Step } from "./script.js";

/** Options for {@link runScript}. */
export interface RunScriptOptions {
  /** The script's text (see {@link parseScript}). */
  text: string;
  /** Clients to start with; overrides the script's `clients N`. Default: the script's, else 3. */
  clients?: number;
  /** Where the server listens. Default 127.0.0.1. */
  host?: string;
  /** The server's port, so `nc` or `lab client` can join; 0 (the default) picks a free one. */
  port?: number;
  /** How long each `expect` waits, in ms. Default 3000. */
  expectTimeoutMs?: number;
  /** Receives the transcripts (text, or JSON when `json`). */
  write: (text: string) => void;
  /** Print the panes as JSON instead of text. */
  json?: boolean;
  /** Called before each step (progress on stderr). */
  onStep?: (step: Step) => void;
  signal?: AbortSignal;
  /** Where servers and clients come from; `@netlab/chat` unless a test says otherwise. */
  factory?: ChatFactory;
  /** Speak TLS (a certificate made for this run, pinned by every client). */
  tls?: boolean;
  /** Two nodes joined through Redis at this URL, or (`true`) a `redis-server` started for the run. */
  cluster?: string | true;
  /** The warning for a server bound at `host`, in the server's transcript (as runDemo's `exposure`). */
  exposure?: (host: string) => string | undefined;
}

/** Longest wait for the starting clients to be connected and welcomed, in ms. */
const READY_TIMEOUT_MS = 5000;

/**
 * Plays a demo script headlessly: starts the server and clients over real sockets, runs the
 * steps, lets in-flight messages land, writes every pane's transcript, closes everything. Throws
 * BAD_SCRIPT before starting anything, and EXPECT_FAILED/NO_SUCH_CLIENT after writing the transcripts.
 * @example await runScript({ text: "client 1: hi\nexpect client 2: hi", write: (t) => process.stdout.write(t) });
 */
export async function runScript(opts: RunScriptOptions): Promise<void> {
  const script = parseScript(opts.text);
  const { factory, stop } = await chatSceneFactory(opts);
  const lab = new LabController(factory, {
    clients: opts.clients ?? script.clients ?? 3,
    host: opts.host,
    port: opts.port,
    maxTranscriptLines: 10_000,
    maxLogLines: 10_000,
    exposure: opts.exposure,
  });
  let failure: unknown;
  try {
    await lab.start();
    // Everyone connected and welcomed (their nick confirmed) before the first step.
    await waitFor(lab, isReady, READY_TIMEOUT_MS, opts.signal);
    await playScript(lab, script.steps, {
      expectTimeoutMs: opts.expectTimeoutMs,
      onStep: opts.onStep,
      signal: opts.signal,
    });
  } catch (err) {
    failure = err;
  }
  try {
    await settle(lab);
    const snapshot = lab.getSnapshot();
    opts.write(opts.json ? `${JSON.stringify(toJson(snapshot), null, 2)}\n` : formatTranscripts(snapshot));
  } finally {
    await lab.close();
    await stop?.();
  }
  if (failure !== undefined) throw failure;
}

function isReady(s: LabSnapshot): boolean {
  return s.clients.every(
    (c) =>
      c.state === "connected" &&
      c.transcript.some((l) => l.text.startsWith("* ") && !l.text.startsWith("* connect")),
  );
}

function toJson(s: LabSnapshot) {
  return {
    server: {
      host: s.server.host,
      port: s.server.port,
      status: s.server.status,
      ...(s.server.cluster === undefined ? {} : { cluster: s.server.cluster }),
      log: s.server.log.map((l) => ({ at: l.at, kind: l.kind, text: l.text })),
    },
    clients: s.clients.map((c) => ({
      id: c.id,
      nick: c.nick,
      state: c.state,
      room: c.room ?? null,
      ...(c.node === undefined ? {} : { node: c.node }),
      bytesIn: c.bytesIn,
      bytesOut: c.bytesOut,
      transcript: c.transcript.map((l) => ({ at: l.at, kind: l.kind, text: l.text })),
    })),
  };
}
