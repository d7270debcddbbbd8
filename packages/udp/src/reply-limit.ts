import { addressKey } from "@netlab/core";
import { requireInt } from "./errors.js";

/**
 * Bytes of IPv4 and UDP headers each reply carries on the wire (20 + 8): a reply is charged them
 * on top of its payload, so a flood of empty datagrams is bounded as surely as one of large ones.
 */
export const REPLY_HEADER_BYTES = 28;

/** Limits of a {@link ReplyLimiter}: how much an echo sends back to one source. */
export interface ReplyLimitOptions {
  /**
   * Bytes per second (payload plus 28 header bytes a reply) sent back to one source address
   * (IPv6: one /64); what is over it is not sent. Default 256 KiB/s; `Infinity` for no limit.
   */
  maxReplyBytesPerSecond?: number;
  /** Bytes one source may be sent at once before the rate applies (a burst). Default 512 KiB. */
  replyBurstBytes?: number;
  /**
   * Sources remembered; past it the one heard from least recently is forgotten (and starts
   * afresh with a full burst when heard from again). Default 10 000.
   */
  maxReplySources?: number;
  /**
   * Limit loopback sources too. Default false: a datagram from 127.0.0.0/8 or ::1 was sent on
   * this machine (the kernel drops one with that source arriving from outside), so it cannot be a
   * reflection at a third party, and a local benchmark keeps its full speed.
   */
  limitLoopback?: boolean;
}

/** Defaults of {@link ReplyLimitOptions}. */
export const REPLY_LIMIT_DEFAULTS = {
  maxReplyBytesPerSecond: 256 * 1024,
  replyBurstBytes: 512 * 1024,
  maxReplySources: 10_000,
  limitLoopback: false,
} as const;

interface Bucket {
  /** Bytes that may be sent now, at most the burst. */
  tokens: number;
  /** When `tokens` was last brought up to date, ms on the limiter's clock. */
  at: number;
}

/**
 * Whether a datagram's source is this machine's loopback (127.0.0.0/8, ::1, or 127/8 mapped into
 * IPv6). A string test, not a BlockList: this runs per datagram, and `BlockList.check` cost about
 * 5 µs a call here, as much as echoing the datagram. Exact for what dgram reports, which is always
 * the canonical form (dotted quad; lower-case, compressed IPv6).
 */
function isLoopback(address: string): boolean {
  return address.startsWith("127.") || address === "::1" || address.startsWith("::ffff:127.");
}

/**
 * A token bucket per source address, as a reflection-aware responder keeps one (DNS response
 * rate limiting, NTP's `limited`): an echo answers whatever address a datagram claims to come
 * from, and UDP sources are forged for free, so without it anyone could aim the echo's replies at
 * a third party. The bucket bounds what one victim can be sent, whoever forges its address; IPv6
 * sources count per /64, so one host cannot spread a flood over its own addresses. The table is
 * bounded by `maxReplySources`. Pure given its clock: the caller sends or drops.
 * @example
 * const limiter = new ReplyLimiter({ maxReplyBytesPerSecond: 64 * 1024 });
 * if (limiter.allow(rinfo.address, packet.length)) socket.send(packet, rinfo.port, rinfo.address);
 */
export class ReplyLimiter {
  readonly options: Readonly<Required<ReplyLimitOptions>>;
  readonly #buckets = new Map<string, Bucket>();
  readonly #now: () => number;

  constructor(options: ReplyLimitOptions = {}, now: () => number = () => performance.now()) {
    const o = {
      maxReplyBytesPerSecond: options.maxReplyBytesPerSecond ?? REPLY_LIMIT_DEFAULTS.maxReplyBytesPerSecond,
      replyBurstBytes: options.replyBurstBytes ?? REPLY_LIMIT_DEFAULTS.replyBurstBytes,
      maxReplySources: options.maxReplySources ?? REPLY_LIMIT_DEFAULTS.maxReplySources,
      limitLoopback: options.limitLoopback ?? REPLY_LIMIT_DEFAULTS.limitLoopback,
    };
    requireInt("maxReplyBytesPerSecond", o.maxReplyBytesPerSecond, { min: 1, allowInfinity: true });
    requireInt("replyBurstBytes", o.replyBurstBytes, { min: 1 });
    requireInt("maxReplySources", o.maxReplySources, { min: 1 });
    this.options = o;
    this.#now = now;
  }

  /** Whether nothing is limited (an infinite rate). */
  get isUnlimited(): boolean {
    return this.options.maxReplyBytesPerSecond === Number.POSITIVE_INFINITY;
  }

  /** Sources in the table now. */
  get size(): number {
    return this.#buckets.size;
  }

  /**
   * Whether a reply of `bytes` payload bytes may go to `address` now; if so it is charged
   * (with {@link REPLY_HEADER_BYTES}). A refused reply costs nothing, so a source over its rate
   * gets replies again as soon as the rate allows, not after the flood stops.
   */
  allow(address: string, bytes: number): boolean {
    if (this.isUnlimited || (!this.options.limitLoopback && isLoopback(address))) return true;
    const { maxReplyBytesPerSecond: rate, replyBurstBytes: burst } = this.options;
    const now = this.#now();
    const key = addressKey(address);
    const old = this.#buckets.get(key);
    const bucket = old ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * rate);
    bucket.at = now;
    // Re-inserted so the Map's order is least recently heard first: the one to forget when full.
    this.#buckets.delete(key);
    this.#buckets.set(key, bucket);
    while (this.#buckets.size > this.options.maxReplySources) {
      this.#buckets.delete(this.#buckets.keys().next().value as string);
    }
    const cost = bytes + REPLY_HEADER_BYTES;
    if (bucket.tokens < cost) return false;
    bucket.tokens -= cost;
    return true;
  }
}
