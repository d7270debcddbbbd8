import { EventEmitter } from "node:events";
import { ProxyError } from "./errors.js";
import { randomSeed } from "./random.js";
import { normalizeToxic, type Toxic, type ToxicSpec } from "./toxics.js";

/** Events of a {@link ToxicSet}. */
export interface ToxicSetEvents {
  /** The list changed (added, updated, removed or cleared); links re-read it at once. */
  change: [];
}

/**
 * The toxics of one proxy, changed live: every link made with this set follows `add`, `update`,
 * `remove` and `clear` at once (a removed `timeout` lets held data go; a removed `latency` releases
 * what it was delaying). Also holds the seed every per-connection decision derives from, and the
 * state `bandwidth` toxics with `shared: true` pool across connections.
 * @example
 * const toxics = new ToxicSet({ seed: 1 });
 * toxics.add({ type: "latency", attributes: { latency: 100 } });
 */
export class ToxicSet extends EventEmitter<ToxicSetEvents> {
  /** The seed of every per-connection draw (toxicity, jitter, slice sizes, corruption). */
  readonly seed: number;
  #toxics = new Map<string, Toxic>();
  /** Per shared-bandwidth toxic: the time its pooled link is next free, ms (performance.now). */
  readonly sharedBandwidth = new Map<string, { nextFreeMs: number }>();

  constructor(options: { seed?: number; toxics?: ToxicSpec[] } = {}) {
    super();
    this.seed = options.seed ?? randomSeed();
    for (const spec of options.toxics ?? []) this.add(spec);
  }

  /** The toxics in the order they act, as toxiproxy lists them. */
  list(): Toxic[] {
    return [...this.#toxics.values()];
  }

  /** The toxic with this name; throws UNKNOWN_TOXIC. */
  get(name: string): Toxic {
    const toxic = this.#toxics.get(name);
    if (!toxic) {
      throw new ProxyError("UNKNOWN_TOXIC", `no toxic named '${name}'`, {
        hint: `toxics here: ${[...this.#toxics.keys()].join(", ") || "none"}`,
      });
    }
    return toxic;
  }

  /** Whether a toxic of this name is set. */
  has(name: string): boolean {
    return this.#toxics.has(name);
  }

  /** Validates and adds a toxic; throws INVALID_TOXIC, INVALID_OPTION or DUPLICATE_TOXIC. Returns it as stored. */
  add(spec: ToxicSpec): Toxic {
    const toxic = normalizeToxic(spec);
    if (this.#toxics.has(toxic.name)) {
      throw new ProxyError("DUPLICATE_TOXIC", `a toxic named '${toxic.name}' already exists`, {
        hint: "give it another name, or update or remove the existing one",
      });
    }
    this.#toxics.set(toxic.name, toxic);
    this.emit("change");
    return toxic;
  }

  /**
   * Changes an existing toxic: attributes merge into the old ones, other fields replace theirs (as
   * toxiproxy's POST /toxics/{name}). Throws UNKNOWN_TOXIC or a validation error.
   */
  update(name: string, changes: Partial<ToxicSpec>): Toxic {
    const old = this.get(name);
    const toxic = normalizeToxic({
      ...old,
      ...changes,
      name,
      type: old.type,
      attributes: { ...old.attributes, ...(changes.attributes ?? {}) },
    });
    this.#toxics.set(name, toxic);
    this.emit("change");
    return toxic;
  }

  /** Removes a toxic; throws UNKNOWN_TOXIC. */
  remove(name: string): void {
    this.get(name);
    this.#toxics.delete(name);
    this.sharedBandwidth.delete(name);
    this.emit("change");
  }

  /** Removes every toxic. */
  clear(): void {
    if (this.#toxics.size === 0) return;
    this.#toxics.clear();
    this.sharedBandwidth.clear();
    this.emit("change");
  }
}
