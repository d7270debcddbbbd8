export { RedisBackend } from "./backend.js";
export { ClusterError, type ClusterErrorCode } from "./errors.js";
export {
  type ClusterAddress,
  defaultNodeId,
  parseClusterUrl,
  REDIS_BACKEND_DEFAULTS,
  type RedisBackendOptions,
} from "./options.js";
export { RedisPubSubBackend } from "./pubsub.js";
