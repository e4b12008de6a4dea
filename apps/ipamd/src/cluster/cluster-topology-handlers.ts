import { Cidr } from "@ipam/bitmap";
import type { ClusterHandlers } from "@ipam/grpc-server";
import type { Reservation } from "@ipam/subnet-pool";
import { parseTopology, type SubnetInput, type Topology, toCanonicalConfig } from "@ipam/topology";
import type { Logger } from "pino";
import { IpamdError } from "../ipamd-error.js";
import { requireText } from "../request-fields.js";
import { supernetOf } from "./carve-handlers.js";
import { logReturned } from "./carve-log.js";
import type { ClusterDataSource } from "./cluster-data-handlers.js";
import { wireSubnet } from "./cluster-wire.js";
import { type SubnetHolderView, subnetHolders } from "./node-reports.js";
import { changeLines, dryRun, resolveScope, topologyVersion } from "./topology-changes.js";

/**
 * What a subnet still holds, per node (cluster state + the nodes' reports to this server), or
 * undefined when the subnet is gone. Read at once on this replica, which has just applied the
 * caller's command.
 */
async function holdersOf(
  cluster: ClusterDataSource,
  id: string,
): Promise<
  { holders: SubnetHolderView[]; held: bigint; empty: boolean; blocks: number } | undefined
> {
  return cluster.read(
    (s) => {
      const h = s.subnetHoldings(id);
      const view = s.subnets().find((v) => v.subnet.id === id);
      if (h === undefined || view === undefined) return undefined;
      const bits = view.subnet.family === 4 ? 32 : 128;
      const blockSize = 1n << BigInt(bits - view.subnet.blockPrefix);
      return { ...subnetHolders(h, cluster.reports, blockSize), blocks: h.blocks.length };
    },
    { stale: true },
  );
}

/**
 * The Cluster API's topology RPCs: ApplyTopology (one at a time per server, checked against
 * `expected_version`, `dry_run` on a copy of the replica), GetTopology, Register/DeregisterNode
 * and Add/Remove/DrainSubnet. See {@link clusterDataHandlers}.
 */
/** A reservation of the cluster state on the wire. */
function wireReservation(r: Reservation) {
  return {
    subnetId: r.subnet,
    range: r.range,
    reason: r.reason,
    reservedAtUnixMs: BigInt(r.at),
  };
}

export function clusterTopologyHandlers(
  cluster: ClusterDataSource,
  now: () => number,
  log?: Pick<Logger, "info">,
): Partial<ClusterHandlers> {
  let applying = Promise.resolve();
  return {
    applyTopology: (req) => {
      // One ApplyTopology at a time on this server, so expected_version checks are not raced
      // by another ApplyTopology sent here.
      const run = applying.then(async () => {
        let next: Topology;
        try {
          next = parseTopology(requireText("topology_json", req.topologyJson), "json");
        } catch (err) {
          if (err instanceof IpamdError) throw err;
          throw new IpamdError("INVALID_ARGUMENT", `topology_json: ${(err as Error).message}`, {
            cause: err,
            details: { ...((err as { details?: Record<string, unknown> }).details ?? {}) },
          });
        }
        const config = toCanonicalConfig(next);
        const current = await cluster.read((s) => topologyVersion(s.topology()));
        if (req.expectedVersion !== 0n && req.expectedVersion !== current) {
          throw new IpamdError(
            "CONFLICT",
            `expected_version: the topology is at version ${current}, not ${req.expectedVersion}`,
            { details: { version: current.toString() } },
          );
        }
        // Like the topology file: the config manages the file's subnets; API ones stay.
        const command = {
          type: "apply-topology" as const,
          at: now(),
          config,
          source: "file" as const,
        };
        if (req.dryRun) {
          // Apply to a copy of the replica: the full state-machine checks, nothing changes.
          const value = await cluster.read((s) => dryRun(s, command));
          return { version: current, changes: value, raftIndex: 0n };
        }
        const result = await cluster.execute(command);
        const version = await cluster.read((s) => topologyVersion(s.topology()), { stale: true });
        return {
          version,
          changes: changeLines(result.value.diff, result.value.removedNodes),
          raftIndex: BigInt(cluster.appliedIndex()),
        };
      });
      applying = run.then(
        () => undefined,
        () => undefined,
      );
      return run;
    },

    getTopology: async (req) =>
      cluster.read(
        (s) => ({
          topologyJson: JSON.stringify(toCanonicalConfig(s.topology())),
          version: topologyVersion(s.topology()),
        }),
        { stale: req.allowStale },
      ),

    registerNode: async (req) => {
      const node = requireText("node_id", req.nodeId);
      const tor = requireText("tor_id", req.torId);
      const existed = await cluster.read((s) => s.node(node) !== undefined, { stale: true });
      await cluster.execute({ type: "register-node", at: now(), node, tor, labels: req.labels });
      return { created: !existed };
    },

    deregisterNode: async (req) => {
      const node = requireText("node_id", req.nodeId);
      const empty = {
        releasedBlocks: 0,
        releasedAddresses: 0,
        revokedBlocks: [],
        keptAddresses: 0,
        deregistering: false,
      };
      const view = await cluster.read((s) => s.node(node));
      if (view === undefined) return empty;
      if (!req.force && !req.dead && (view.blocks > 0 || view.directAddresses > 0)) {
        throw new IpamdError(
          "CONFLICT",
          `node_id: node ${node} still holds ${view.blocks} blocks and ${view.directAddresses} direct addresses; set force to revoke them (its agent returns them as its pods release their addresses), or dead if the node is really gone (frees them at once)`,
          { details: { node, blocks: view.blocks, directAddresses: view.directAddresses } },
        );
      }
      const mode = req.dead ? "dead" : req.force ? "revoke" : "if-empty";
      const r = await cluster.execute({ type: "deregister-node", at: now(), node, mode });
      return {
        ...empty,
        releasedBlocks: r.value.blocks.length,
        releasedAddresses: r.value.addresses.length,
        revokedBlocks: [...(r.value.revokedBlocks ?? [])],
        keptAddresses: r.value.keptAddresses?.length ?? 0,
        deregistering: r.value.deregistering ?? false,
      };
    },

    addSubnet: async (req) => {
      const s = req.subnet;
      if (s === undefined) throw new IpamdError("INVALID_ARGUMENT", "subnet: is required");
      const cidr = requireText("subnet.cidr", s.cidr);
      const purpose = requireText("subnet.purpose", s.purpose);
      const topology = await cluster.read((st) => st.topology());
      const input: SubnetInput = {
        cidr,
        purpose,
        scope: resolveScope(topology, "subnet.scope", s.scope),
        ...(s.id === "" ? {} : { id: s.id }),
        ...(s.gateway === "" ? {} : { gateway: s.gateway }),
        ...(s.reserved.length === 0 ? {} : { reserved: [...s.reserved] }),
        ...(s.blockPrefix === 0 ? {} : { blockPrefix: s.blockPrefix }),
        ...(s.cooldownSeconds === 0 ? {} : { cooldownSeconds: s.cooldownSeconds }),
        ...(s.priority === 0 ? {} : { priority: s.priority }),
      };
      try {
        const r = await cluster.execute({
          type: "add-subnet",
          at: now(),
          subnet: input,
          origin: "api",
        });
        return { subnet: wireSubnet(r.value, false, { origin: "api" }) };
      } catch (err) {
        if (!(err instanceof IpamdError) || err.code !== "CONFLICT") throw err;
        // Adding the identical subnet again succeeds.
        const same = await cluster.read((st) => {
          const found = st.subnets().find((v) => v.subnet.id === (s.id === "" ? cidr : s.id));
          if (found === undefined) return undefined;
          const x = found.subnet;
          const sameCidr = Cidr.tryParse(cidr)?.toString() === x.cidr;
          const ok =
            sameCidr &&
            x.purpose === purpose &&
            x.scope.kind === input.scope.kind &&
            x.scope.id === input.scope.id &&
            (s.blockPrefix === 0 || s.blockPrefix === x.blockPrefix) &&
            (s.gateway === "" || s.gateway === x.gateway);
          return ok ? wireSubnet(x, found.draining, found) : undefined;
        });
        if (same === undefined) throw err;
        return { subnet: same };
      }
    },

    removeSubnet: async (req) => {
      const id = requireText("subnet_id", req.subnetId);
      const found = await cluster.read((s) => {
        const v = s.subnets().find((x) => x.subnet.id === id);
        // A carved subnet's range goes back to its supernet once the subnet is gone.
        const from = v?.origin === "carved" ? supernetOf(s.topology(), v.subnet) : undefined;
        return v === undefined ? undefined : { view: v, supernet: from?.cidr };
      });
      if (found === undefined)
        return { removed: false, removing: false, holders: [], returnedToSupernet: "" };
      const { view, supernet } = found;
      // Forced: the subnet drains, its blocks are revoked, and it stays as `removing` until
      // its holders have given everything back (the command that does so deletes it).
      // Asked again while it is being removed: what it still waits for.
      if (!view.removing) {
        await cluster.execute({ type: "remove-subnet", at: now(), subnet: id, force: req.force });
      }
      const left = await holdersOf(cluster, id);
      const returned = left === undefined && supernet !== undefined ? supernet : "";
      if (returned !== "" && log !== undefined) logReturned(log, view.subnet, returned);
      return {
        removed: true,
        removing: left !== undefined && !left.empty,
        holders: left?.holders ?? [],
        returnedToSupernet: returned,
      };
    },

    reserveRange: async (req) => {
      const subnet = requireText("subnet_id", req.subnetId);
      const range = requireText("range", req.range);
      const r = await cluster.execute({
        type: "reserve",
        at: now(),
        subnet,
        range,
        reason: req.reason,
      });
      return { reservation: wireReservation(r.value) };
    },

    listReservations: async (req) =>
      cluster.read(
        (s) => ({
          reservations: s
            .subnets()
            .filter((v) => req.subnetId === "" || v.subnet.id === req.subnetId)
            .flatMap((v) => v.reservations.map(wireReservation)),
          raftIndex: BigInt(cluster.appliedIndex()),
        }),
        { stale: req.allowStale },
      ),

    unreserveRange: async (req) => {
      const subnet = requireText("subnet_id", req.subnetId);
      const range = requireText("range", req.range);
      const r = await cluster.execute({ type: "unreserve", at: now(), subnet, range });
      return { reservation: wireReservation(r.value) };
    },

    drainSubnet: async (req) => {
      const id = requireText("subnet_id", req.subnetId);
      await cluster.execute({ type: "drain-subnet", at: now(), subnet: id, draining: req.drain });
      const left = await holdersOf(cluster, id);
      return {
        blocksLeased: BigInt(left?.blocks ?? 0),
        addressesAllocated: String(left?.held ?? 0n),
        holders: left?.holders ?? [],
        done: left === undefined || left.empty,
      };
    },
  };
}
