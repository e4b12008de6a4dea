// Public API of @ipam/metrics: every export is named (no `export *`).
export { type BucketSet, DEFAULT_BUCKETS } from "./buckets.js";
export {
  type AllocationLabels,
  createIpamMetrics,
  type GcRun,
  IPAM_METRIC_NAMES,
  type IpamMetricName,
  type IpamMetrics,
  type IpamMetricsOptions,
  type PreallocationEvent,
  RAFT_METRIC_NAMES,
  type ReleaseLabels,
  type SnapshotOp,
  type SubnetLabels,
  UNCAUGHT_ERROR_KINDS,
  type UncaughtErrorKind,
} from "./ipam-metrics.js";
export {
  type Family,
  type FamilyLabel,
  familyLabel,
  GRPC_CODE_NAMES,
  type GrpcCodeName,
  grpcCodeLabel,
  grpcMethodLabel,
  normaliseResult,
  type ResultLabel,
  resultOf,
} from "./labels.js";
export type { MetricsLogger } from "./logger.js";
export { isMetricsError, MetricsError, type MetricsErrorCode } from "./metrics-error.js";
export {
  type ExpositionSource,
  type MetricsServer,
  type MetricsServerOptions,
  type Readiness,
  startMetricsServer,
} from "./metrics-server.js";
export {
  type AgentGaugeSource,
  type AgentStatusLike,
  type ForecastGaugeSource,
  type ForecastSnapshot,
  type GaugeCount,
  type GaugeSource,
  type NodePoolGaugeSource,
  type NodePoolSnapshot,
  type PoolGaugeSource,
  type PoolSnapshot,
  RAFT_ROLES,
  type RaftGaugeSource,
  type RaftRole,
  type RaftStatusLike,
  type SourceName,
} from "./sources.js";
export { type Clock, monotonicSeconds, type TimeAsyncOptions, timeAsync } from "./time-async.js";
