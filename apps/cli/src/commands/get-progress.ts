/** Bodies at least this large get a progress bar on a terminal. */
export const PROGRESS_MIN_BYTES = 1024 * 1024;

/** How the bar words sizes and rates (netlab's one unit system) and fits a terminal: @netlab/core's. */
export interface ProgressUnits {
  formatBytes(bytes: number): string;
  formatRate(bytesPerSecond: number): string;
  fitColumns(text: string, columns: number): string;
}

/** A one-line progress bar on stderr, redrawn at most ten times a second. */
export class Progress {
  #bytes = 0;
  #lastDraw = 0;
  readonly #started = Date.now();
  readonly #units: ProgressUnits;

  /** `units`: @netlab/core's formatters, passed in so that loading this module loads no package. */
  constructor(
    readonly total: number | undefined,
    units: ProgressUnits,
  ) {
    this.#units = units;
  }

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
    const { formatBytes, formatRate } = this.#units;
    const rate = formatRate(this.#bytes / seconds);
    const columns = process.stderr.columns || 80;
    let line = `${formatBytes(this.#bytes)}  ${rate}`;
    if (this.total) {
      const ratio = Math.min(1, this.#bytes / this.total);
      const numbers = `${(ratio * 100).toFixed(0).padStart(3)}%  ${formatBytes(this.#bytes)} / ${formatBytes(this.total)}  ${rate}`;
      const width = 30;
      const filled = Math.round(ratio * width);
      const withBar = `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${numbers}`;
      line = withBar.length <= columns - 1 ? withBar : numbers;
    }
    // Within the terminal's width (the bar gives way first): a wrapped line cannot be redrawn with
    // \r. \x1b[K clears what a longer earlier draw left.
    process.stderr.write(`\r${this.#units.fitColumns(line, columns - 1)}\x1b[K`);
  }
}
