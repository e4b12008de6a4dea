import { readFileSync, watch } from "node:fs";
import { exampleTopology, parseTopology, type Topology, toCanonicalConfig } from "@ipam/topology";
import type { Logger } from "pino";
import type { ClusterApi, ClusterStateReader } from "./cluster/cluster-api.js";
import { changeLines } from "./cluster/topology-changes.js";
import { IpamdError } from "./ipamd-error.js";

// The `--topology` file: read at start, and proposed again on SIGHUP or when it changes. The
// one place every role reloads it from.

/**
 * The topology of `--topology FILE` (JSON or YAML), or the built-in example without one.
 * @throws IpamdError INVALID_ARGUMENT `--topology: FILE: why` when the file cannot be read or is
 *   not a valid topology.
 */
export function loadTopology(path: string | undefined): Topology {
  if (path === undefined) return exampleTopology();
  try {
    return parseTopology(readFileSync(path, "utf8"), "auto");
  } catch (cause) {
    throw new IpamdError("INVALID_ARGUMENT", `--topology: ${path}: ${(cause as Error).message}`, {
      cause,
      details: { option: "topology" },
    });
  }
}

/**
 * Calls `onChange(why)` on SIGHUP and when the topology file changes (debounced 200 ms). Nothing
 * is watched without a path. Returns the function that stops watching.
 */
function watchFile(path: string | undefined, onChange: (why: string) => void): () => void {
  if (path === undefined) return () => {};
  let timer: NodeJS.Timeout | undefined;
  const watcher = watch(path, () => {
    clearTimeout(timer);
    timer = setTimeout(() => onChange("file changed"), 200);
  });
  const onHup = () => onChange("SIGHUP");
  process.on("SIGHUP", onHup);
  return () => {
    watcher.close();
    clearTimeout(timer);
    process.off("SIGHUP", onHup);
  };
}

/** Options of {@link watchTopology}. */
export interface TopologyReloadOptions {
  /** `--topology`; undefined = the built-in example, applied only when `applyExample` says so. */
  readonly path: string | undefined;
  /** Where the topology is proposed (`apply-topology`). */
  readonly cluster: Pick<ClusterApi, "execute"> & Pick<ClusterStateReader, "appliedIndex">;
  readonly log: Logger;
  /** Without a path: whether the built-in example is to be applied now (default: never). */
  readonly applyExample?: () => boolean;
  /**
   * Whether this process proposes now; false skips the reload (the callee logs why). Default:
   * always (role all). Servers leave the file to the leader.
   */
  readonly mayPropose?: (why: string) => boolean;
}

/** A running topology reload. */
export interface TopologyReload {
  /** Reloads now (after the reload in progress): read, validate, propose; every outcome logged. */
  reload(why: string): void;
  /** Stops watching and waits for the reload in progress. */
  stop(): Promise<void>;
}

/**
 * Reloads the topology on SIGHUP and when the file changes, one reload at a time. A file that
 * does not parse or validate is logged (`topology FILE rejected, keeping the running one`) and
 * nothing changes; a topology the cluster refuses (e.g. a CIDR change under live allocations) is
 * logged too; an applied one is logged as `topology applied` with its `changes` (the change
 * lines ApplyTopology answers: entities and purpose strategies added, changed, removed).
 */
export function watchTopology(options: TopologyReloadOptions): TopologyReload {
  const { path, cluster, log } = options;
  let running = Promise.resolve();
  const reload = (why: string) => {
    running = running.then(async () => {
      if (path === undefined && options.applyExample?.() !== true) return;
      if (options.mayPropose !== undefined && !options.mayPropose(why)) return;
      const file = path ?? "built-in example";
      let next: Topology;
      try {
        next = loadTopology(path);
      } catch (err) {
        log.error({ err, file, why }, `topology ${file} rejected, keeping the running one`);
        return;
      }
      try {
        const result = await cluster.execute({
          type: "apply-topology",
          at: Date.now(),
          config: toCanonicalConfig(next),
          // The file manages its own subnets only: subnets added through the API stay.
          source: "file",
        });
        const changes = changeLines(result.value.diff, result.value.removedNodes);
        log.info({ file, why, raftIndex: cluster.appliedIndex(), changes }, "topology applied");
      } catch (err) {
        log.error(
          { err, file, why },
          `topology ${file} refused by the cluster, keeping the running one`,
        );
      }
    });
  };
  const stopWatching = watchFile(path, reload);
  return {
    reload,
    stop: async () => {
      stopWatching();
      await running;
    },
  };
}
