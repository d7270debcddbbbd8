import { ConcurrencyError } from "./errors.js";

/**
 * Gives back what `acquire()` took. Call it once; a second call throws `RELEASED_TOO_OFTEN`.
 * It is also `Disposable`, so `using release = await mutex.acquire()` releases at block end
 * (disposing after an explicit call is a no-op).
 */
export type Release = (() => void) & Disposable;

/** Wraps `free` as a one-shot {@link Release}. */
export function oneShot(what: string, free: () => void): Release {
  let isReleased = false;
  const release = (() => {
    if (isReleased) {
      throw new ConcurrencyError("RELEASED_TOO_OFTEN", `${what} released twice`, {
        hint: "call each release function once (or rely on `using`)",
      });
    }
    isReleased = true;
    free();
  }) as Release;
  release[Symbol.dispose] = () => {
    if (!isReleased) release();
  };
  return release;
}

/**
 * Takes what `acquire` gives, runs `fn`, and releases however `fn` ends: every primitive's
 * `runExclusive`. A throw from `acquire` itself comes back as a rejection.
 */
export async function holding<T>(acquire: () => Promise<Release>, fn: () => T | Promise<T>): Promise<T> {
  const release = await acquire();
  try {
    return await fn();
  } finally {
    release();
  }
}

/** {@link holding} for a blocking `acquireSync`: the `runExclusiveSync` of the shared primitives. */
export function holdingSync<T>(acquireSync: () => Release, fn: () => T): T {
  const release = acquireSync();
  try {
    return fn();
  } finally {
    release();
  }
}
