import type { Decoder } from "./codec.js";
import { ProtocolError } from "./errors.js";

const EMPTY = new Uint8Array(0);

/**
 * A decoder whose frames are `inner`'s frames passed through `fn`. When `fn` throws a recoverable
 * ProtocolError only that frame is lost: the frames after it come out on the next push, in order,
 * and errors from `inner` keep their place in the sequence.
 * @example const numbers = mapDecoder(lines(), (line) => Number(line));
 */
export function mapDecoder<A, B>(inner: Decoder<A>, fn: (frame: A) => B): Decoder<B> {
  return new MappedDecoder(inner, fn);
}

class MappedDecoder<A, B> implements Decoder<B> {
  readonly #inner: Decoder<A>;
  readonly #fn: (frame: A) => B;
  /** Frames from `inner` not yet mapped: only non-empty after an error. */
  #backlog: A[] = [];
  /** An `inner` error that comes after the backlog. */
  #deferred: ProtocolError | undefined;
  /** `inner` holds bytes after a recoverable error and must be pushed again. */
  #innerResume = false;
  /** Chunks pushed while the backlog was being drained. */
  #input: Uint8Array[] = [];

  constructor(inner: Decoder<A>, fn: (frame: A) => B) {
    this.#inner = inner;
    this.#fn = fn;
  }

  get bufferedBytes(): number {
    return this.#inner.bufferedBytes + this.#input.reduce((n, c) => n + c.length, 0);
  }

  push(chunk: Uint8Array): B[] {
    if (chunk.length > 0) this.#input.push(chunk);
    const out: B[] = [];
    for (;;) {
      this.#mapBacklog(out);
      const deferred = this.#deferred;
      if (deferred) {
        this.#deferred = undefined;
        throw new ProtocolError(deferred.code, deferred.message, {
          recoverable: true,
          frames: out,
          hint: deferred.hint,
          cause: deferred.cause,
        });
      }
      const next = this.#input.shift();
      if (next === undefined && !this.#innerResume) return out;
      this.#innerResume = false;
      try {
        this.#backlog.push(...this.#inner.push(next ?? EMPTY));
      } catch (err) {
        if (!(err instanceof ProtocolError) || !err.recoverable) throw err;
        this.#backlog.push(...(err.frames as A[]));
        this.#deferred = err;
        this.#innerResume = true;
      }
    }
  }

  end(): B[] {
    const out = this.push(EMPTY);
    this.#backlog.push(...this.#inner.end());
    this.#mapBacklog(out);
    return out;
  }

  #mapBacklog(out: B[]): void {
    while (this.#backlog.length > 0) {
      const frame = this.#backlog.shift() as A;
      try {
        out.push(this.#fn(frame));
      } catch (err) {
        if (err instanceof ProtocolError && err.recoverable) {
          throw new ProtocolError(err.code, err.message, {
            recoverable: true,
            frames: out,
            hint: err.hint,
            cause: err.cause,
          });
        }
        throw err;
      }
    }
  }
}
