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
