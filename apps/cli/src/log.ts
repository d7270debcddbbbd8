// The subpath, not the front door: every server loads this at start.
import { formatPeer } from "@netlab/core/address";
import { escapeControls, safeJson } from "@netlab/core/terminal";
import type { Command } from "commander";
import { UsageError } from "./run.js";
import { offerWords } from "./words.js";

/**
 * How a server's log lines look:
 * - `text`: `2026-12-06T11:48:42.123Z info  listening on 127.0.0.1:5001 (chat)`: RFC 3339 in UTC
 *   with milliseconds (sorts as text, means the same on every machine, as nginx's and journald's
 *   ISO stamps), the level, the message with control characters escaped (cat -v style).
 * - `json`: one object per line, `{"ts","level","msg",…fields}`; text from the network is kept
 *   exact (as JSON escapes), for jq and log shippers.
 * - `plain`: the message alone, for a supervisor that stamps lines itself (journald, docker logs).
 */
export const LOG_FORMATS = ["text", "json", "plain"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Severities, least first. `debug` lines show with -v only; -q shows `warn` and `error` only. */
export type LogLevel = "debug" | "info" | "warn" | "error";
const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Machine-readable facts a line carries beside its message (json format only; text has them in words). */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

/** Options for {@link Logger}. */
export interface LoggerOptions {
  format: LogFormat;
  /** The least severe level shown. Default `info`. */
  level?: LogLevel;
  /** Where each finished line goes, newline included. Default: stderr. */
  write?: (line: string) => void;
  /** The clock (tests). Default: `new Date()`. */
  now?: () => Date;
}

/**
 * Every server's log: one line per event on stderr, stamped and levelled (see {@link LOG_FORMATS}).
 * Methods: `debug`, `info`, `warn`, `error`, and `ready` for the line a script waits for
 * (`listening on …`): `info`, but shown even with -q, as `python -m http.server` always says
 * where it serves; with --port 0 it is the only way to learn the port.
 */
export class Logger {
  readonly format: LogFormat;
  readonly level: LogLevel;
  readonly #write: (line: string) => void;
  readonly #now: () => Date;

  constructor(options: LoggerOptions) {
    this.format = options.format;
    this.level = options.level ?? "info";
    this.#write = options.write ?? ((line) => process.stderr.write(line));
    this.#now = options.now ?? (() => new Date());
  }

  /** Whether `debug` lines are shown (-v): callers skip building lines nobody sees. */
  get isVerbose(): boolean {
    return this.level === "debug";
  }

  debug(msg: string, fields?: LogFields): void {
    this.log("debug", msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.log("info", msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.log("warn", msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.log("error", msg, fields);
  }
  /** The ready line: `info`, shown at every level. */
  ready(msg: string, fields?: LogFields): void {
    this.#emit("info", msg, fields);
  }

  /** One line at `level`, unless the logger's level hides it. */
  log(level: LogLevel, msg: string, fields?: LogFields): void {
    if (RANK[level] >= RANK[this.level]) this.#emit(level, msg, fields);
  }

  #emit(level: LogLevel, msg: string, fields: LogFields | undefined): void {
    this.#write(`${this.format === "json" ? this.#json(level, msg, fields) : this.#text(level, msg)}\n`);
  }

  #text(level: LogLevel, msg: string): string {
    // One event, one line: a newline from a peer is shown as ^J, never starts a forged line.
    const shown = escapeControls(msg);
    return this.format === "plain" ? shown : `${this.#now().toISOString()} ${level.padEnd(5)} ${shown}`;
  }

  #json(level: LogLevel, msg: string, fields: LogFields | undefined): string {
    const line = JSON.stringify({ ts: this.#now().toISOString(), level, msg, ...fields });
    // The same string to a parser; DEL, C1 and bidi controls as \uXXXX so `tail -f` of it is safe too.
    return safeJson(line);
  }
}

/** What {@link addLogOptions} adds to a command's options. */
export interface LogOpts {
  verbose?: boolean;
  quiet?: boolean;
  logFormat?: string;
}

/**
 * -v/--verbose, -q/--quiet and --log-format, the same on every long-running server. `verbose`
 * says what -v adds for this command (omit it where -v would add nothing).
 */
export function addLogOptions(cmd: Command, verbose?: string): Command {
  if (verbose !== undefined) cmd.option("-v, --verbose", `log more: ${verbose}`);
  cmd
    .option("-q, --quiet", "log warnings and errors only (and the ready line)")
    .option(
      "--log-format <format>",
      "text (UTC time, level, message), json (an object per line), plain (message only)",
      "text",
    );
  return offerWords(cmd, "--log-format", LOG_FORMATS);
}

/** The logger the options ask for; a bad --log-format or -v with -q is a usage error. */
export function createLogger(opts: LogOpts): Logger {
  const format = (opts.logFormat ?? "text") as LogFormat;
  if (!LOG_FORMATS.includes(format)) {
    throw new UsageError(
      `unknown --log-format ${JSON.stringify(opts.logFormat)}`,
      `choose one of: ${LOG_FORMATS.join(", ")} (default text)`,
    );
  }
  if (opts.verbose && opts.quiet) {
    throw new UsageError("-v and -q ask for opposite things", "choose one: -v logs more, -q logs less");
  }
  return new Logger({ format, level: opts.verbose ? "debug" : opts.quiet ? "warn" : "info" });
}

/** How {@link closeWords} says a socketserver close reason. */
const CLOSE_WORDS: Record<string, string> = {
  closed: "closed",
  reset: "reset by peer",
  shutdown: "server shutting down",
  "idle-timeout": "idle timeout",
  "frame-timeout": "line timeout",
  "slow-consumer": "peer stopped reading",
  error: "handler error",
};

/** A connection's close reason in words, for a log line. */
export function closeWords(reason: string | undefined): string {
  return CLOSE_WORDS[reason ?? "closed"] ?? reason ?? "closed";
}

/** Seconds with two decimals, as every duration in a log line: `0.42 s`. */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/**
 * A socketserver server's connection lines, the same in every command: `connect PEER (#ID)` and
 * `disconnect PEER (#ID, N B in, M B out) after 0.42 s: closed` at `level` (lab server's access
 * log is `info`; lab files' is `debug`, shown with -v), refusals and peer errors always.
 */
export function logConnections(
  server: import("@netlab/socketserver").BaseServer,
  log: Logger,
  level: LogLevel,
): void {
  type Info = import("@netlab/socketserver").ConnectionInfo;
  type Peer = import("@netlab/socketserver").PeerAddress;
  if (RANK[level] >= RANK[log.level]) {
    server.on("open", (info: Info) =>
      log.log(level, `connect ${formatPeer(info.peer)} (#${info.id})`, {
        event: "connect",
        peer: formatPeer(info.peer),
        id: info.id,
      }),
    );
    server.on("close", (info: Info) => {
      const ms = Date.now() - info.openedAt;
      const peer = formatPeer(info.peer);
      log.log(
        level,
        `disconnect ${peer} (#${info.id}, ${info.bytesIn} B in, ${info.bytesOut} B out) after ${seconds(ms)}: ${closeWords(info.closeReason)}`,
        {
          event: "disconnect",
          peer,
          id: info.id,
          bytesIn: info.bytesIn,
          bytesOut: info.bytesOut,
          durationMs: ms,
          reason: info.closeReason ?? "closed",
        },
      );
    });
  }
  server.on("refuse", (peer: Peer) =>
    log.warn(`refuse ${formatPeer(peer)}: server full`, { event: "refuse", peer: formatPeer(peer) }),
  );
  server.on("tlsRefused", (peer: Peer, refusal: { message: string }) =>
    log.warn(`tls: ${formatPeer(peer)}: ${refusal.message}`, { event: "tlsRefused", peer: formatPeer(peer) }),
  );
  server.on("error", (err: unknown, peer?: Peer) => {
    const message = err instanceof Error ? err.message : String(err);
    log.error(peer ? `error from ${formatPeer(peer)}: ${message}` : `error: ${message}`, {
      event: "error",
      peer: peer ? formatPeer(peer) : undefined,
    });
  });
}
