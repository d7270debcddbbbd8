/** Bodies at least this large get a progress bar on a terminal. */
export const PROGRESS_MIN_BYTES = 1024 * 1024;

/** A one-line progress bar on stderr, redrawn at most ten times a second. */
export class Progress {
  #bytes = 0;
  #lastDraw = 0;
  readonly #started = Date.now();

  constructor(readonly total: number | undefined) {}

  add(n: number): void {
    this.#bytes += n;
    const now = Date.now();
    if (now - this.#lastDraw >= 100) {
      this.#lastDraw = now;
      this.#draw(now);
    }
  }

  done(): void {
    this.#draw(Date.now());
    process.stderr.write("\n");
  }

  /** Ends the bar's line so that an error message starts on its own. */
  interrupt(): void {
    process.stderr.write("\n");
  }

  #draw(now: number): void {
    const seconds = Math.max((now - this.#started) / 1000, 0.001);
    const rate = `${mib(this.#bytes / seconds)}/s`;
    if (this.total) {
      const ratio = Math.min(1, this.#bytes / this.total);
      const width = 30;
      const filled = Math.round(ratio * width);
      const bar = `${"#".repeat(filled)}${"-".repeat(width - filled)}`;
      process.stderr.write(
        `\r[${bar}] ${(ratio * 100).toFixed(0).padStart(3)}%  ${mib(this.#bytes)} / ${mib(this.total)}  ${rate}   `,
      );
    } else {
      process.stderr.write(`\r${mib(this.#bytes)}  ${rate}   `);
    }
  }
}

function mib(bytes: number): string {
  return bytes >= 1024 * 1024
    ? `${(bytes / 1024 / 1024).toFixed(1)} MiB`
    : `${(bytes / 1024).toFixed(0)} KiB`;
}
