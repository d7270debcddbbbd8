/** Round-trip statistics in ms, as iputils `ping` reports them. */
export interface RttStats {
  minMs: number;
  avgMs: number;
  maxMs: number;
  /** sqrt(mean(rtt²) − mean(rtt)²): the population standard deviation, as iputils computes it. */
  mdevMs: number;
}

/**
 * Accumulates RTTs in O(1) memory. mdev is iputils' sqrt(mean(rtt²) − mean(rtt)²), computed with
 * Welford's update, which gives the same value without the cancellation that summing squares
 * suffers when RTTs are nearly equal.
 * @example const acc = new RttAccumulator(); acc.add(1); acc.add(3); acc.stats() // avg 2, mdev 1
 */
export class RttAccumulator {
  #count = 0;
  #mean = 0;
  /** Sum of squared differences from the running mean. */
  #m2 = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = Number.NEGATIVE_INFINITY;

  get count(): number {
    return this.#count;
  }

  add(rttMs: number): void {
    this.#count++;
    const delta = rttMs - this.#mean;
    this.#mean += delta / this.#count;
    this.#m2 += delta * (rttMs - this.#mean);
    if (rttMs < this.#min) this.#min = rttMs;
    if (rttMs > this.#max) this.#max = rttMs;
  }

  /** The statistics so far; undefined before the first RTT. */
  stats(): RttStats | undefined {
    if (this.#count === 0) return undefined;
    const variance = Math.max(0, this.#m2 / this.#count);
    return { minMs: this.#min, avgMs: this.#mean, maxMs: this.#max, mdevMs: Math.sqrt(variance) };
  }
}

/** The end-of-run figures of a ping, in the shape people know from `ping`. */
export interface PingSummary {
  /** Where the probes went: `127.0.0.1:5003`. */
  target: string;
  host: string;
  port: number;
  /** Size of each probe, in bytes. */
  sizeBytes: number;
  transmitted: number;
  /** Replies that came back within the timeout (each probe counted once). */
  received: number;
  /** Replies that came back after their probe had timed out; not in `received` nor in `rtt`. */
  late: number;
  /** Second and later copies of a reply already counted. */
  duplicates: number;
  /** Replies that came back after a reply to a later probe. */
  reordered: number;
  /** Datagrams that were not replies to this run's probes (garbage, mangled, another run's). */
  ignored: number;
  /** ICMP errors received (port unreachable). */
  errors: number;
  /** 100 × (transmitted − received) / transmitted; 0 when nothing was sent. */
  lossPercent: number;
  /** Over the on-time replies; undefined when there were none. */
  rtt: RttStats | undefined;
  /** From the first probe sent to the end of the run, in ms. */
  elapsedMs: number;
}

/** 100 × (transmitted − received) / transmitted, as `ping` computes it; 0 when nothing was sent. */
export function lossPercent(transmitted: number, received: number): number {
  return transmitted === 0 ? 0 : ((transmitted - received) * 100) / transmitted;
}

/**
 * An RTT the way iputils prints it: three significant decimals below 1 ms, fewer above.
 * @example formatRtt(0.04512) // "0.045"; formatRtt(12.34) // "12.3"; formatRtt(123.4) // "123"
 */
export function formatRtt(ms: number): string {
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  if (ms >= 1) return ms.toFixed(2);
  return ms.toFixed(3);
}

/** A percentage without trailing zeros, as `ping` prints it with `%g`: 30, 33.3333, 0.1. */
export function formatPercent(value: number): string {
  return String(Number(value.toPrecision(6)));
}

/**
 * The summary as `ping` prints it: a title line, the counts, then the RTT line when there were replies.
 * @example
 * formatSummary(s)
 * // --- 127.0.0.1:5003 udp ping statistics ---
 * // 10 packets transmitted, 7 received, 30% packet loss, time 1803ms
 * // rtt min/avg/max/mdev = 0.061/0.093/0.139/0.024 ms
 */
export function formatSummary(s: PingSummary): string[] {
  const counts = [`${s.transmitted} packets transmitted`, `${s.received} received`];
  if (s.duplicates > 0) counts.push(`+${s.duplicates} duplicates`);
  if (s.late > 0) counts.push(`+${s.late} late`);
  if (s.reordered > 0) counts.push(`${s.reordered} out of order`);
  if (s.errors > 0) counts.push(`+${s.errors} errors`);
  if (s.ignored > 0) counts.push(`${s.ignored} ignored`);
  counts.push(`${formatPercent(s.lossPercent)}% packet loss`, `time ${Math.round(s.elapsedMs)}ms`);
  const out = [`--- ${s.target} udp ping statistics ---`, counts.join(", ")];
  if (s.rtt) {
    const r = s.rtt;
    out.push(
      `rtt min/avg/max/mdev = ${[r.minMs, r.avgMs, r.maxMs, r.mdevMs].map((v) => v.toFixed(3)).join("/")} ms`,
    );
  }
  return out;
}
