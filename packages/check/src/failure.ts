import type { Conn } from "./conn.js";

/** What a failing test reports; thrown by tests through {@link fail}. */
export interface FailureInfo {
  expected: string;
  observed: string;
  /** Overrides the test's own hint when this failure has a more precise one. */
  hint?: string;
  /** The connection whose transcript the excerpt comes from. */
  conn?: Conn;
  /** Which direction the excerpt shows, and around which offset (default: the end). */
  side?: "sent" | "received";
  at?: number;
}

/** A test's verdict that the target got something wrong. */
export class TestFailure extends Error {
  constructor(readonly info: FailureInfo) {
    super(`expected ${info.expected}; observed ${info.observed}`);
  }
}

/** Ends the test as failed. */
export function fail(info: FailureInfo): never {
  throw new TestFailure(info);
}

/** Index of the first byte where `a` and `b` differ, or -1 when one is a prefix of the other and equal in length. */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}
