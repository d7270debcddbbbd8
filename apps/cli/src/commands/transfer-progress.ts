import { escapeControls, fitColumns } from "@netlab/core/terminal";
import type { Progress, ResumeInfo, TransferResult } from "@netlab/transfer";

type Transfer = typeof import("@netlab/transfer");

/**
 * One line per file on stderr, redrawn in place at most 10 times a second:
 * `name  [#####.....]  45%  450.0 MiB / 1.0 GiB  171.9 MiB/s  ETA 3s`; the finished line stays.
 */
export class ProgressBar {
  readonly #t: Transfer;
  #lastDraw = 0;
  #drawn = false;

  constructor(t: Transfer) {
    this.#t = t;
  }

  update(p: Progress): void {
    const now = performance.now();
    if (now - this.#lastDraw < 100 && p.bytesDone < p.totalBytes) return;
    this.#lastDraw = now;
    const moved = p.bytesDone - p.offset;
    const rate = p.elapsedMs > 0 ? moved / (p.elapsedMs / 1000) : 0;
    const left = rate > 0 ? (p.totalBytes - p.bytesDone) / rate : Number.POSITIVE_INFINITY;
    const fraction = p.totalBytes === 0 ? 1 : p.bytesDone / p.totalBytes;
    const columns = process.stderr.columns || 80;
    const width = Math.max(10, Math.min(30, columns - 70));
    const filled = Math.round(fraction * width);
    const f = this.#t.formatBytes;
    const numbers = `${(fraction * 100).toFixed(0).padStart(3)}%  ${f(p.bytesDone)} / ${f(p.totalBytes)}  ${this.#t.formatRate(rate)}  ETA ${formatEta(left)}`;
    const withBar = `[${"#".repeat(filled)}${".".repeat(width - filled)}]  ${numbers}`;
    // A line that wraps cannot be redrawn with \r (each redraw would start a new line): the name
    // gives way first, then the bar, then the end of the line. The last column stays free (some
    // terminals wrap there).
    const stats = withBar.length <= columns - 1 ? withBar : numbers;
    const nameColumns = columns - 1 - stats.length - 2;
    const name = nameColumns >= 8 ? `${fitColumns(escapeControls(p.name), nameColumns)}  ` : "";
    process.stderr.write(`\r${fitColumns(name + stats, columns - 1)}\x1b[K`);
    this.#drawn = true;
  }

  done(r: TransferResult): void {
    if (r.existed) {
      process.stderr.write(`\r${alreadyThere(r)}\x1b[K\n`);
      this.#drawn = false;
      return;
    }
    const verb = r.direction === "upload" ? "uploaded" : "downloaded";
    const resumed = r.offset > 0 ? `, resumed at ${this.#t.formatBytes(r.offset)}` : "";
    const sha = r.sha256 ? `, sha256 ${r.sha256.slice(0, 16)}…` : ", not verified";
    process.stderr.write(
      `\r${verb} ${escapeControls(r.name)} (${this.#t.formatBytes(r.bytes)}${resumed}) in ${r.seconds.toFixed(2)} s, ${this.#t.formatRate(r.mbps * 1e6)}${sha}\x1b[K\n`,
    );
    this.#drawn = false;
  }

  clear(): void {
    if (this.#drawn) process.stderr.write("\n");
    this.#drawn = false;
  }
}

function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds)) return "--";
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  if (seconds < 3600)
    return `${Math.floor(seconds / 60)}m${String(Math.ceil(seconds % 60)).padStart(2, "0")}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, "0")}m`;
}

/** The line for a file the other side already had, byte for byte. */
export function alreadyThere(r: TransferResult): string {
  if (r.direction === "download") {
    return `${escapeControls(r.path)} is already here (same size and SHA-256 as the server's), nothing fetched`;
  }
  return `${escapeControls(r.name)} is already on the server (same size and SHA-256), nothing sent`;
}

/**
 * The one line said when a transfer meets a partial file (the server's for an upload, ours for a
 * download): where it resumed, or that the partial was not this file's start and is being replaced.
 */
export function resumeLine(t: Transfer, r: ResumeInfo): string {
  const name = escapeControls(r.name);
  if (r.direction === "download") {
    if (r.matched) {
      return `resuming ${name} at offset ${r.offset} (${t.formatBytes(r.offset)} already here; SHA-256 of that prefix matches the server's)`;
    }
    return `${escapeControls(r.partPath ?? `${r.name}.part`)} (${t.formatBytes(r.partBytes)}) is not the start of the server's file; starting over (it is replaced)`;
  }
  if (r.matched) {
    return `resuming ${name} at offset ${r.offset} (${t.formatBytes(r.offset)} already on the server; SHA-256 of that prefix matches)`;
  }
  return `${name}.part on the server (${t.formatBytes(r.partBytes)}) is not the start of this file; starting over (it is replaced)`;
}
