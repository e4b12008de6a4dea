import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ConfState } from "@ipam/raft";
import { IpamdError } from "../ipamd-error.js";

/** File in the data dir naming the cluster this server belongs to (and its bootstrap membership). */
export const IDENTITY_FILE = "raft-cluster.json";

/** What a server remembers about its group besides the Raft log. */
export interface Identity {
  readonly clusterId: string;
  readonly nodeId: string;
  /**
   * The membership this server bootstrapped the group with. The driver does not log the
   * bootstrap configuration, so it must be passed again on every start of that server.
   */
  readonly bootstrap?: ConfState;
}

/** The identity file of `dataDir`; undefined without a data dir (in-memory store). */
export function identityPath(dataDir: string | undefined): string | undefined {
  return dataDir === undefined ? undefined : join(dataDir, IDENTITY_FILE);
}

/**
 * The identity stored at `path` (undefined when there is none). Throws INTERNAL for a damaged
 * file and INVALID_ARGUMENT naming `--node-id` when it belongs to another node id.
 */
export function readIdentity(path: string | undefined, nodeId: string): Identity | undefined {
  if (path === undefined || !existsSync(path)) return undefined;
  let parsed: Identity;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8")) as Identity;
  } catch (cause) {
    throw new IpamdError("INTERNAL", `--data-dir: ${path} is not valid JSON`, { cause });
  }
  if (typeof parsed.clusterId !== "string" || parsed.clusterId === "") {
    throw new IpamdError("INTERNAL", `--data-dir: ${path} has no clusterId`);
  }
  if (parsed.nodeId !== nodeId) {
    throw new IpamdError(
      "INVALID_ARGUMENT",
      `--node-id: ${nodeId} differs from ${parsed.nodeId}, the id this data dir belongs to (${path})`,
    );
  }
  return parsed;
}

/** Writes `identity` to `path` atomically (temp file + rename; mode 0600); nothing without a path. */
export function writeIdentity(path: string | undefined, identity: Identity): void {
  if (path === undefined) return;
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(identity, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}
