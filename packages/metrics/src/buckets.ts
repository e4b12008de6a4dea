/**
 * Histogram bucket upper bounds, in seconds unless named otherwise. Chosen for what each
 * operation costs on a healthy node, with room above for the slow tail an operator alerts on.
 * Frozen: pass your own arrays through `IpamMetricsOptions.buckets` to change them.
 */
export const DEFAULT_BUCKETS = Object.freeze({
  /** Node-local allocation and release: a bitmap search plus a group-committed fsync. */
  allocation: Object.freeze([
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
  ]),
  /** Applying one committed Raft entry to the state machine: pure in-memory work. */
  raftApply: Object.freeze([
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25,
  ]),
  /** A Raft proposal from submit to commit: a quorum round trip plus fsyncs. */
  raftProposal: Object.freeze([
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
  ]),
  /** Creating or restoring a snapshot of the cluster state. */
  snapshot: Object.freeze([0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]),
  /** One SQLite transaction, fsync included. */
  storeTransaction: Object.freeze([
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
  ]),
  /** Operations per group commit (a count, not seconds). */
  storeBatch: Object.freeze([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]),
  /** One gRPC call as the server handles it. */
  grpc: Object.freeze([
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
  ]),
});

/** The names of the bucket sets that can be overridden. */
export type BucketSet = keyof typeof DEFAULT_BUCKETS;
