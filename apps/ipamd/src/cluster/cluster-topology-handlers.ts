import { Cidr } from "@ipam/bitmap";
import type { ClusterHandlers } from "@ipam/grpc-server";
import {
  parseTopology,
  removeSubnet,
  type SubnetInput,
  type Topology,
  toCanonicalConfig,
} from "@ipam/topology";
import { IpamdError } from "../ipamd-error.js";
import { requireText } from "../request-fields.js";
import type { ClusterDataSource } from "./cluster-data-handlers.js";
import { wireSubnet } from "./cluster-wire.js";
import { changeLines, dryRun, resolveScope, topologyVersion } from "./topology-changes.js";

/**
 * The Cluster API's topology RPCs: ApplyTopology (one at a time per server, checked against
 * `expected_version`, `dry_run` on a copy of the replica), GetTopology, Register/DeregisterNode
 * and Add/Remove/DrainSubnet. See {@link clusterDataHandlers}.
 */
export function clusterTopologyHandlers(
  cluster: ClusterDataSource,
  now: () => number,
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
        const command = { type: "apply-topology" as const, at: now(), config };
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
      const view = await cluster.read((s) => s.node(node));
      if (view === undefined) return { releasedBlocks: 0, releasedAddresses: 0 };
      if (!req.force && (view.blocks > 0 || view.directAddresses > 0)) {
        throw new IpamdError(
          "CONFLICT",
          `node_id: node ${node} still holds ${view.blocks} blocks and ${view.directAddresses} direct addresses; set force to free them`,
          { details: { node, blocks: view.blocks, directAddresses: view.directAddresses } },
        );
      }
      const r = await cluster.execute({ type: "deregister-node", at: now(), node });
      return {
        releasedBlocks: r.value.blocks.length,
        releasedAddresses: r.value.addresses.length,
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
        const r = await cluster.execute({ type: "add-subnet", at: now(), subnet: input });
        return { subnet: wireSubnet(r.value, false) };
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
          return ok ? wireSubnet(x, found.draining) : undefined;
        });
        if (same === undefined) throw err;
        return { subnet: same };
      }
    },

    removeSubnet: async (req) => {
      const id = requireText("subnet_id", req.subnetId);
      const exists = await cluster.read((s) => s.topology().subnets.has(id));
      if (!exists) return { removed: false };
      if (!req.force) {
        await cluster.execute({ type: "remove-subnet", at: now(), subnet: id });
        return { removed: true };
      }
      // Forced: drain, then a topology without the subnet (a removed draining subnet drops
      // its leases and direct allocations), atomically in one entry.
      const next = await cluster.read((s) => toCanonicalConfig(removeSubnet(s.topology(), id)));
      const at = now();
      await cluster.execute({
        type: "batch",
        at,
        atomic: true,
        commands: [
          { type: "drain-subnet", at, subnet: id, draining: true },
          { type: "apply-topology", at, config: next },
        ],
      });
      return { removed: true };
    },

    drainSubnet: async (req) => {
      const id = requireText("subnet_id", req.subnetId);
      await cluster.execute({ type: "drain-subnet", at: now(), subnet: id, draining: req.drain });
      const usage = await cluster.read((s) => s.subnetUsage().find((u) => u.subnet === id), {
        stale: true,
      });
      return {
        blocksLeased: BigInt(usage?.leasedBlocks ?? 0),
        addressesAllocated: String(usage?.allocated ?? 0),
      };
    },
  };
}
