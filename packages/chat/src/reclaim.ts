// Reclaim tokens: the secret a server gives a JSON client with each nick it grants, so that the
// client, reconnecting (or failing over to another cluster node), takes its nick back at once from
// a session the server still holds (a connection that died without a FIN), IRC's NickServ GHOST
// done without a password. Servers keep only the SHA-256 of a token, never the token.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { ChatError } from "./errors.js";

/** Longest reclaim token a hello may carry; a longer one is refused before it is hashed. */
export const MAX_RECLAIM_TOKEN_CHARS = 64;

/** A fresh token (192 random bits, base64url: 32 characters) and the hash the server keeps of it. */
export function newReclaimToken(): { token: string; hash: string } {
  const token = randomBytes(24).toString("base64url");
  return { token, hash: hashReclaimToken(token) };
}

/** The SHA-256 of `token`, hex: what a server stores and compares. */
export function hashReclaimToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/**
 * The hash of the token a hello offers; throws BAD_MESSAGE for one past MAX_RECLAIM_TOKEN_CHARS
 * (a client of ours never sends one: it is garbage or a probe, and costs no hashing).
 */
export function reclaimProof(token: string): string {
  if (token.length > MAX_RECLAIM_TOKEN_CHARS) {
    throw new ChatError(
      "BAD_MESSAGE",
      `bad message: reclaim: a reclaim token is at most ${MAX_RECLAIM_TOKEN_CHARS} characters`,
      { hint: "send the token the server gave you in its reclaim event, or none" },
    );
  }
  return hashReclaimToken(token);
}

/** Whether two token hashes are equal, in time that does not depend on where they differ. */
export function sameReclaimHash(a: string, b: string): boolean {
  const x = Buffer.from(a, "hex");
  const y = Buffer.from(b, "hex");
  return x.length === 32 && y.length === 32 && timingSafeEqual(x, y);
}
