import { NetlabError, type NetlabErrorOptions } from "@netlab/core";

/** Every code the Redis cluster backend reports (also listed in docs/PROTOCOL.md and docs/cluster.md). */
export type ClusterErrorCode =
  | "INVALID_OPTION"
  | "CLUSTER_URL_INVALID"
  | "CLUSTER_UNREACHABLE"
  | "CLUSTER_AUTH"
  | "NODE_ID_TAKEN"
  | "CLUSTER_DEGRADED"
  | "CLUSTER_BUFFER_FULL"
  | "NICK_TAKEN";

/**
 * The cluster backend cannot do what was asked: Redis unreachable, a password refused, a node id
 * in use, or the link is down and the outgoing buffer full.
 * @example throw new ClusterError("NODE_ID_TAKEN", "node id a is in use", { hint: "give each node its own --node-id" })
 */
export class ClusterError extends NetlabError<ClusterErrorCode> {
  constructor(code: ClusterErrorCode, message: string, options: NetlabErrorOptions = {}) {
    super(code, message, options);
  }
}
