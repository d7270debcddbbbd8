import { type Random, seededRandom } from "@netlab/udp";

export { type Random, randomSeed, seededRandom } from "@netlab/udp";

/** FNV-1a of a string, as a u32: folds a toxic's name into a seed. */
function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * A generator for one toxic on one connection, made from the proxy's seed, the toxic's name and the
 * connection id alone: the same seed gives the same draws whatever order connections open or
 * toxics are added in.
 * @example const rng = toxicRandom(1, "latency_downstream", 7); rng(); // same number on every run
 */
export function toxicRandom(seed: number, toxicName: string, connectionId: number): Random {
  const mixed =
    Math.imul(hashString(toxicName) ^ (seed >>> 0), 0x9e3779b1) ^ Math.imul(connectionId, 0x85ebca6b);
  const rng = seededRandom(mixed >>> 0);
  rng(); // the first draw of mulberry32 on nearby seeds is the least mixed
  return rng;
}

/**
 * Whether connection `connectionId` is affected by a toxic of this name and toxicity (toxiproxy's
 * per-connection toxicity): `toxicity` 0 is never, 1 always, and otherwise the same answer for the
 * same seed on every run.
 * @example isAffected(1, "reset_peer_downstream", 42, 0.3)
 */
export function isAffected(seed: number, toxicName: string, connectionId: number, toxicity: number): boolean {
  if (toxicity <= 0) return false;
  if (toxicity >= 1) return true;
  return (
    seededRandom(
      (Math.imul(hashString(`toxicity:${toxicName}`) ^ (seed >>> 0), 0x27d4eb2f) ^
        Math.imul(connectionId, 0x165667b1)) >>>
        0,
    )() < toxicity
  );
}
