import { type ErrnoErrorCode, NetlabError, optionChecks } from "@netlab/core";

/**
 * Codes the proxy fails with. Callers (and the HTTP API's status codes) branch on these, never on
 * the message. Socket errnos map through `@netlab/core`'s one table.
 */
export type ProxyErrorCode =
  | ErrnoErrorCode
  /** An option or a toxic attribute out of range (a negative latency, a toxicity of 2, NaN). */
  | "INVALID_OPTION"
  /** A toxic spec that cannot be read: unknown type, stream or attribute (HTTP 400). */
  | "INVALID_TOXIC"
  /** No toxic by that name (HTTP 404). */
  | "UNKNOWN_TOXIC"
  /** A toxic by that name is already there (HTTP 409). */
  | "DUPLICATE_TOXIC"
  /** No proxy by that name (HTTP 404). */
  | "UNKNOWN_PROXY"
  /** A proxy by that name is already there (HTTP 409). */
  | "DUPLICATE_PROXY"
  /** The listen address is the upstream: every connection would connect to itself. */
  | "PROXY_LOOP"
  /** More than maxConnections at once: the new client was reset. */
  | "PROXY_FULL"
  /** A request body that is not the JSON expected (HTTP 400). */
  | "BAD_REQUEST";

/**
 * A proxy failure said in one line, with a hint.
 * @example throw new ProxyError("DUPLICATE_TOXIC", "toxic latency_downstream already exists", { hint: "…" })
 */
export class ProxyError extends NetlabError<ProxyErrorCode> {}

/** The option validators, throwing INVALID_OPTION as a ProxyError. */
export const { requireInt, requireRange, requireMs } = optionChecks(ProxyError);
