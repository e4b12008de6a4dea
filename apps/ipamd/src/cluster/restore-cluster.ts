import {
  closeSync,
  copyFileSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
} from "node:fs";
import { join } from "node:path";
import type { Storage } from "@ipam/raft";
import { ClusterState, decodeCommand } from "@ipam/subnet-pool";
import type { Logger } from "pino";
import { IpamdError } from "../ipamd-error.js";
import { IDENTITY_FILE } from "./cluster-identity.js";

/**
 * `--restore-from FILE`, before the store opens: copies the backup to `<dataDir>/ipamd.db`
 * (fsynced) when the data dir holds nothing of ipamd's and returns true. A data dir that
 * already holds a cluster (the restored one, restarted with the same flags) is resumed: returns
 * false (logged). Throws INVALID_ARGUMENT naming --restore-from for a missing backup or a data
 * dir holding a database but no cluster identity.
 */
export function copyBackupIntoDataDir(file: string, dataDir: string, log: Logger): boolean {
  if (existsSync(join(dataDir, IDENTITY_FILE))) {
    log.info({ dataDir }, "data dir holds a cluster: resuming, --restore-from ignored");
    return false;
  }
  if (!existsSync(file)) {
    throw new IpamdError("INVALID_ARGUMENT", `--restore-from: ${file} does not exist`);
  }
  const found = existsSync(dataDir)
    ? readdirSync(dataDir).filter((f) => f.startsWith("ipamd.db") || f.startsWith("raft-"))
    : [];
  if (found.length > 0) {
    throw new IpamdError(
      "INVALID_ARGUMENT",
      `--restore-from: --data-dir ${dataDir} is not empty (${found.join(", ")}); restore into an empty data dir`,
    );
  }
  mkdirSync(dataDir, { recursive: true });
  const target = join(dataDir, "ipamd.db");
  copyFileSync(file, target);
  const fd = openSync(target, "r+");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  log.info({ file, dataDir }, "backup copied into the data dir");
  return true;
}

/** What {@link toSingleVoterGroup} made of the backup. */
export interface RestoredGroup {
  /** The index of the new snapshot (one past the backup's last log entry). */
  readonly index: number;
  readonly term: number;
  /** Log entries replayed on top of the backup's snapshot. */
  readonly replayed: number;
}

/**
 * Turns the Raft state of a backup of `ipamd.db` (in `storage`) into the start of a new group
 * whose only voter is `nodeId` at `advertise` (`ipamd --role server --restore-from`): the
 * cluster state is the backup's snapshot plus every entry of its log (a backup does not record
 * which of them committed; in a disaster, what one server logged is the best there is, as with
 * etcd's --force-new-cluster), saved as a snapshot one index past the log with the new
 * membership; the old log and vote are dropped. Every write is durable when this returns.
 */
export function toSingleVoterGroup(
  storage: Storage,
  nodeId: string,
  advertise: string,
): RestoredGroup {
  const state = new ClusterState();
  const snap = storage.snapshot();
  if (snap !== undefined) state.restore(snap.data);
  const from = Math.max(storage.firstIndex(), (snap?.meta.index ?? 0) + 1);
  const last = storage.lastIndex();
  let replayed = 0;
  let lastTerm = snap?.meta.term ?? 0;
  if (from <= last) {
    for (const e of storage.entries(from, last + 1)) {
      lastTerm = e.term;
      if (e.type !== "normal" || e.data.length === 0) continue;
      state.apply(decodeCommand(e.data));
      replayed++;
    }
  }
  const { hardState } = storage.initialState();
  const term = Math.max(hardState.term, lastTerm);
  const index = Math.max(last, snap?.meta.index ?? 0) + 1;
  storage.applySnapshot({
    meta: {
      index,
      term,
      conf: { voters: [nodeId], learners: [], addresses: { [nodeId]: advertise } },
    },
    data: state.snapshot(),
  });
  storage.setHardState({ term, vote: null, commit: index });
  storage.flush?.();
  return { index, term, replayed };
}
