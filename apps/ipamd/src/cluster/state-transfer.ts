import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { createSqliteStorage } from "@ipam/raft/sqlite";
import { openStore } from "@ipam/store";
import { ClusterState, decodeCommand } from "@ipam/subnet-pool";
import type { Logger } from "pino";
import type { EtcdClient } from "../etcd/etcd-client.js";
import { bytes, type EtcdKeys, prefixEnd } from "../etcd/etcd-keys.js";
import { IpamdError } from "../ipamd-error.js";
import { IDENTITY_FILE, identityPath, writeIdentity } from "./cluster-identity.js";
import { EtcdClusterLog } from "./etcd-cluster-log.js";
import { EtcdReplica } from "./etcd-replica.js";
import { writeSnapshot } from "./etcd-snapshots.js";

// Moving the cluster state between stores (migration): a `ClusterState` snapshot (the bytes
// `ClusterState.snapshot()` writes) is the exchange format. Raft is read and written offline
// (the servers are stopped); etcd is read and written live, under one prefix.

/** What was exported or imported. */
export interface StateSummary {
  /** Raft: the commit index applied; etcd: the etcd revision the state covers. */
  readonly index: number;
  readonly bytes: number;
  readonly subnets: number;
  readonly nodes: number;
  readonly blocks: number;
  readonly direct: number;
}

function summary(state: ClusterState, index: number, size: number): StateSummary {
  const views = state.subnets();
  return {
    index,
    bytes: size,
    subnets: views.length,
    nodes: state.nodes().length,
    blocks: state.nodes().reduce((n, node) => n + state.nodeLeases(node.id).length, 0),
    direct: state.directAllocations().length,
  };
}

/** Reads a `ClusterState` snapshot; @throws IpamdError INVALID_ARGUMENT naming `what`. */
export function checkState(data: Uint8Array, what: string): ClusterState {
  try {
    return ClusterState.restore(data);
  } catch (cause) {
    throw new IpamdError(
      "INVALID_ARGUMENT",
      `${what}: not a cluster state snapshot: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
}

/**
 * The cluster state of a stopped Raft server's data dir: its latest snapshot plus every
 * committed entry after it. Export from the server with the highest applied index after
 * stopping the group with SIGTERM (a SIGKILLed server may not have persisted its last commit
 * index yet). @throws IpamdError INVALID_ARGUMENT when the data dir holds no Raft state.
 */
export function exportRaftState(dataDir: string): { data: Uint8Array; summary: StateSummary } {
  const path = join(dataDir, "ipamd.db");
  if (!existsSync(path)) {
    throw new IpamdError("INVALID_ARGUMENT", `--data-dir: ${dataDir} holds no ipamd.db`);
  }
  const store = openStore({ path });
  try {
    const storage = createSqliteStorage(store.raftLog());
    const state = new ClusterState();
    const snapshot = storage.snapshot();
    if (snapshot !== undefined) state.restore(snapshot.data);
    const commit = storage.initialState().hardState.commit;
    const first = Math.max(storage.firstIndex(), (snapshot?.meta.index ?? 0) + 1);
    if (commit === 0 && snapshot === undefined) {
      throw new IpamdError("INVALID_ARGUMENT", `--data-dir: ${dataDir} holds no Raft state`);
    }
    for (let lo = first; lo <= commit; lo += 1000) {
      for (const entry of storage.entries(lo, Math.min(commit, lo + 999) + 1)) {
        if (entry.type === "normal" && entry.data.length > 0)
          state.apply(decodeCommand(entry.data));
      }
    }
    const data = state.snapshot();
    return { data, summary: summary(state, commit, data.length) };
  } finally {
    store.close();
  }
}

/**
 * Makes `dataDir` (which must hold no Raft state) the data dir of a one-server Raft group whose
 * state is `data`: a Raft snapshot at index 1 with `nodeId` as the only voter at `advertise`,
 * and the identity file with a new cluster id. `ipamd --role server --node-id ID --data-dir DIR`
 * then resumes from it; further servers `--join` it.
 */
export function importRaftState(
  dataDir: string,
  nodeId: string,
  advertise: string,
  data: Uint8Array,
): StateSummary {
  const state = checkState(data, "--in");
  if (existsSync(join(dataDir, IDENTITY_FILE))) {
    throw new IpamdError(
      "CONFLICT",
      `--data-dir: ${dataDir} already belongs to a Raft group (${IDENTITY_FILE}); import into an empty data dir`,
    );
  }
  mkdirSync(dataDir, { recursive: true });
  const store = openStore({ path: join(dataDir, "ipamd.db") });
  try {
    const storage = createSqliteStorage(store.raftLog());
    const { hardState } = storage.initialState();
    if (hardState.term > 0 || storage.lastIndex() > 0 || storage.snapshot() !== undefined) {
      throw new IpamdError(
        "CONFLICT",
        `--data-dir: ${dataDir} already holds Raft state; import into an empty data dir`,
      );
    }
    const conf = { voters: [nodeId], learners: [], addresses: { [nodeId]: advertise } };
    storage.applySnapshot({ meta: { index: 1, term: 1, conf }, data });
    storage.flush();
    writeIdentity(identityPath(dataDir), { clusterId: randomUUID(), nodeId, bootstrap: conf });
  } finally {
    store.close();
  }
  return summary(state, 1, data.length);
}

/**
 * The cluster state under an etcd prefix, as a server would catch up to it (latest snapshot,
 * then the log), at one etcd revision. @throws IpamdError UNAVAILABLE when etcd does not answer
 * within `timeoutMs`.
 */
export async function exportEtcdState(
  client: EtcdClient,
  keys: EtcdKeys,
  log: Logger,
  timeoutMs = 30_000,
): Promise<{ data: Uint8Array; summary: StateSummary }> {
  const clusterLog = new EtcdClusterLog({ client, keys, log });
  clusterLog.start();
  try {
    await clusterLog.synced(timeoutMs);
    const data = clusterLog.state.snapshot();
    return {
      data,
      summary: summary(clusterLog.state, Number(clusterLog.replica.revision), data.length),
    };
  } finally {
    await clusterLog.stop();
  }
}

/**
 * Installs `data` as the cluster state under an etcd prefix that holds no cluster yet (no
 * command ever written, no snapshot): a snapshot covering the current revision. Servers started
 * afterwards begin from it. @throws IpamdError CONFLICT when the prefix is in use.
 */
export async function importEtcdState(
  client: EtcdClient,
  keys: EtcdKeys,
  data: Uint8Array,
  writer: string,
): Promise<StateSummary> {
  const state = checkState(data, "--in");
  const prefix = bytes(`${keys.prefix}/`);
  const inUse = await client.range({ key: prefix, rangeEnd: prefixEnd(prefix), countOnly: true });
  if (inUse.count > 0n) {
    throw new IpamdError(
      "CONFLICT",
      `--etcd-prefix: ${keys.prefix}/ already holds ${inUse.count} keys; import into an unused prefix (or delete it with etcdctl del --prefix ${keys.prefix}/ once no server uses it)`,
    );
  }
  const revision = inUse.header?.revision ?? 0n;
  const replica = new EtcdReplica();
  replica.restoreState(data, revision);
  const meta = await writeSnapshot(client, keys, {
    data: replica.snapshot(),
    revision,
    writer,
    now: Date.now(),
    previous: undefined,
    previousModRevision: 0n,
    requireNoLog: true,
  });
  if (meta === undefined) {
    throw new IpamdError(
      "CONFLICT",
      `--etcd-prefix: ${keys.prefix}/ was written to during the import; check that no server runs on it and import again`,
    );
  }
  return summary(state, Number(revision), data.length);
}
