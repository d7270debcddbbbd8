/** What a suite gets: how long it may take, and a way to report progress on stderr. */
export interface BenchContext {
  /** Scale factor for sizes and durations: 1 for the full run, smaller for a quick one (`--quick`). */
  scale: number;
  log(message: string): void;
}

/** A table of figures; ratios are computed by the suite against its in-process baseline. */
export interface Report {
  title: string;
  columns: string[];
  rows: Array<Array<string | number>>;
  /** Lines printed under the table: targets, caveats, what the baseline is. */
  notes: string[];
}

/** One benchmark area (echo, chat, transfer, udp, cli, ...). */
export interface Suite {
  /** Short name used on the command line and as the section marker in docs/benchmarks.md. */
  name: string;
  description: string;
  run(ctx: BenchContext): Promise<Report[]>;
}
