import { safeJson } from "@netlab/core/terminal";
import type { Logger } from "../log.js";
import { parseByteSize, parseNumber, parseReplyRate } from "../options.js";
import { UsageError } from "../run.js";
import { onInterrupt } from "../signals.js";

/** The largest UDP payload over IPv4 (65,535 − 20 IP − 8 UDP header bytes). Kept here so --help needs no import. */
export const MAX_PAYLOAD = 65_507;
/** The longest wait any option accepts, in seconds (setTimeout's limit, about 24 days). */
export const MAX_SECONDS = 2_000_000;

/**
 * The reply limits' defaults as --help shows them, for lab udp echo and lab proxy --udp: @netlab/udp's
 * REPLY_LIMIT_DEFAULTS (a test holds them equal), kept here so --help needs no import.
 */
export const REPLY_LIMIT_TEXT = { rate: "256KiB/s", burst: "512KiB", sources: "10000" } as const;

/** The reply-limit options of lab udp echo and lab proxy --udp. */
export interface ReplyLimitFlags {
  replyRate: string;
  replyBurst: string;
  maxReplySources: string;
}

/** Reads the reply-limit options; `example` is the command line a bad --reply-rate's hint shows. */
export function replyLimits(o: ReplyLimitFlags, example: string) {
  return {
    maxReplyBytesPerSecond: parseReplyRate(o.replyRate, example),
    replyBurstBytes: parseByteSize("--reply-burst", o.replyBurst, { min: 1 }),
    maxReplySources: parseNumber("--max-reply-sources", o.maxReplySources, {
      min: 1,
      max: 10_000_000,
      integer: true,
    }),
  };
}

/** `text` when the payload is printable UTF-8, else `hex`; nothing for an empty one. */
export function payloadJson(
  packet: Buffer,
  viewPayload: typeof import("@netlab/udp").viewPayload,
): { text?: string; hex?: string } {
  const view = viewPayload(packet);
  if (view.kind === "empty") return { text: "" };
  return view.kind === "text" ? { text: packet.toString("utf8") } : { hex: packet.toString("hex") };
}

/**
 * Serves until shut down; the first SIGINT/SIGTERM shuts down gracefully, a second exits at once.
 * `onReady` (the "listening on" line) runs once the handlers are in place: a signal sent the
 * moment that line is seen must not meet the default action, which kills without a summary.
 */
export async function untilSignal(
  server: { serveForever(): Promise<void>; shutdown(): Promise<void> },
  onReady: () => void,
  log: Logger,
): Promise<void> {
  const stop = onInterrupt(
    () => {
      log.info("shutting down");
      void server.shutdown();
    },
    { onAgain: (signal) => log.warn(`${signal} again: exiting without waiting`) },
  );
  onReady();
  try {
    await server.serveForever();
  } finally {
    stop();
  }
}

/** Every udp command's Ctrl-C/SIGTERM: `first` on the first, exit 130 on the second. */
export function onSignals(first: () => void): () => void {
  return onInterrupt(first, { onAgain: (signal) => log(`${signal} again: exiting without waiting`) });
}

export async function readStdin(): Promise<Buffer> {
  if (process.stdin.isTTY) {
    throw new UsageError("nothing to send", "give the text as an argument, or pipe data on standard input");
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    size += chunk.length;
    // One byte over the limit is enough to refuse; stop reading there.
    if (size > MAX_PAYLOAD) break;
  }
  return Buffer.concat(chunks);
}

/** `--recv-buffer SIZE`, the same on every UDP command that binds: the SO_RCVBUF to ask the kernel for. */
export const RECV_BUFFER_OPTION = [
  "--recv-buffer <size>",
  "socket receive buffer (SO_RCVBUF) to ask the kernel for, e.g. 256K, 4MiB",
] as const;

/** Reads `--recv-buffer` (64KiB, 4M; bare numbers are bytes); undefined leaves the system's default. */
export function recvBufferSize(text: string | undefined): number | undefined {
  return text === undefined ? undefined : parseByteSize("--recv-buffer", text, { min: 1, max: 2 ** 31 - 1 });
}

export function parseCount(flag: string, text: string): number {
  return parseNumber(flag, text, { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true });
}

/** Runs `fn`; an INVALID_OPTION from the package becomes a usage error (exit 2). */
export function usage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const e = err as { code?: string; message?: string; hint?: string };
    if (e?.code === "INVALID_OPTION") throw new UsageError(e.message ?? String(err), e.hint);
    throw err;
  }
}

export function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** One JSON line on stdout: a peer's text exact when parsed, its controls `\uXXXX` escapes on a terminal. */
export function outJson(value: unknown): void {
  out(safeJson(JSON.stringify(value)));
}

export function log(line: string): void {
  process.stderr.write(`${line}\n`);
}
