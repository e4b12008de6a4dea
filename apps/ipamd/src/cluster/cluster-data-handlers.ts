import { Cidr } from "@ipam/bitmap";
import {
  type ClusterHandlers,
  type DirectAllocateItem,
  Family as WireFamily,
  StatsLevel as WireStatsLevel,
} from "@ipam/grpc-server";
import type {
  BlockLease,
  ClusterCommand,
  ClusterState,
  CommandResult,
  DirectAllocateValue,
  DirectAllocation,
  StatsLevel,
} from "@ipam/subnet-pool";
import {
  type Family,
  parseTopology,
  removeSubnet,
  type ScopeRef,
  type Subnet,
  type SubnetInput,
  type Topology,
  type TopologyDiff,
  toCanonicalConfig,
} from "@ipam/topology";
import { IpamdError } from "../ipamd-error.js";
import type { ClusterApi, ClusterStateReader } from "./cluster-api.js";
import { refusal, toIpamdCode } from "./cluster-errors.js";

/** What the data handlers need: writes through the replicated log, reads of the replica. */
export type ClusterDataSource = Pick<ClusterApi, "execute"> & ClusterStateReader;

/** Options of {@link clusterDataHandlers}. */
export interface ClusterDataOptions {
  /** Clock for the `at` of commands, ms since the epoch (injected in tests). */
  readonly now?: () => number;
  /** Most items one AllocateDirect / ReleaseDirect call may carry; default 10 000. */
  readonly maxBatch?: number;
}

const DEFAULT_PAGE = 1000;

function requireText(field: string, value: string): string {
  if (value === "") throw new IpamdError("INVALID_ARGUMENT", `${field}: must not be empty`);
  return value;
}

function requireFamily(field: string, value: WireFamily): Family {
  if (value === WireFamily.IPV4) return 4;
  if (value === WireFamily.IPV6) return 6;
  throw new IpamdError("INVALID_ARGUMENT", `${field}: must be FAMILY_IPV4 or FAMILY_IPV6`);
}

function optionalFamily(field: string, value: WireFamily): Family | undefined {
  return value === WireFamily.UNSPECIFIED ? undefined : requireFamily(field, value);
}

function wireFamily(family: Family): WireFamily {
  return family === 4 ? WireFamily.IPV4 : WireFamily.IPV6;
}

const LEVELS: ReadonlyMap<WireStatsLevel, StatsLevel> = new Map([
  [WireStatsLevel.ZONE, "zone"],
  [WireStatsLevel.POD, "pod"],
  [WireStatsLevel.TOR, "tor"],
  [WireStatsLevel.SUBNET, "subnet"],
  [WireStatsLevel.PURPOSE, "purpose"],
]);

/**
 * The topology version the Cluster API reports: FNV-1a (64 bit) of the canonical JSON, never 0.
 * Equal topologies have equal versions on every replica; it is an identity, not a counter.
 */
export function topologyVersion(topology: Topology): bigint {
  return versionOfJson(JSON.stringify(toCanonicalConfig(topology)));
}

function versionOfJson(json: string): bigint {
  const mask = (1n << 64n) - 1n;
  let h = 0xcbf29ce484222325n;
  const bytes = new TextEncoder().encode(json);
  for (const b of bytes) h = ((h ^ BigInt(b)) * 0x100000001b3n) & mask;
  return h === 0n ? 1n : h;
}

/** Human-readable change lines of a diff, deterministic order. */
function changeLines(d: TopologyDiff, removedNodes: readonly string[] = []): string[] {
  const out: string[] = [];
  const kinds = [
    ["zone", d.zones],
    ["pod", d.pods],
    ["tor", d.tors],
    ["subnet", d.subnets],
    ["node", d.nodes],
  ] as const;
  for (const [kind, k] of kinds) {
    for (const e of k.added) out.push(`add ${kind} ${e.id}`);
    for (const e of k.changed) out.push(`change ${kind} ${e.id}`);
    for (const e of k.removed) out.push(`remove ${kind} ${e.id}`);
  }
  for (const n of removedNodes) out.push(`deregister node ${n} (its TOR is gone)`);
  return out;
}

function wireBlock(lease: BlockLease) {
  return {
    cidr: lease.cidr,
    subnetId: lease.subnet.id,
    purpose: lease.subnet.purpose,
    family: wireFamily(lease.subnet.family),
    nodeId: lease.node,
    leasedAtUnixMs: BigInt(lease.leasedAt),
  };
}

/** A direct allocation as the wire AllocatedAddress (`block_cidr` is the host prefix). */
export function wireDirectAddress(d: DirectAllocation) {
  return {
    address: d.address,
    prefixLength: d.prefixLength,
    gateway: d.gateway ?? "",
    family: wireFamily(d.family),
    subnetId: d.subnet,
    blockCidr: `${d.address}/${d.family === 4 ? 32 : 128}`,
    purpose: d.purpose,
  };
}

function wireSubnet(s: Subnet, draining: boolean) {
  return {
    id: s.id,
    cidr: s.cidr,
    purpose: s.purpose,
    scope: s.scope.id,
    gateway: s.gateway,
    reserved: [...s.reserved],
    blockPrefix: s.blockPrefix,
    cooldownSeconds: s.cooldownSeconds,
    priority: s.priority,
    family: wireFamily(s.family),
    draining,
  };
}

/** `tor:t1`, `pod:p1`, `zone:z1`, or a bare id found in exactly one of those kinds. */
function resolveScope(topology: Topology, field: string, text: string): ScopeRef {
  requireText(field, text);
  const m = /^(zone|pod|tor):(.+)$/.exec(text);
  if (m !== null) {
    const kind = m[1] as ScopeRef["kind"];
    const id = m[2] as string;
    const map = kind === "zone" ? topology.zones : kind === "pod" ? topology.pods : topology.tors;
    if (!map.has(id)) throw new IpamdError("NOT_FOUND", `${field}: no ${kind} ${id}`);
    return { kind, id };
  }
  const found: ScopeRef[] = [];
  if (topology.tors.has(text)) found.push({ kind: "tor", id: text });
  if (topology.pods.has(text)) found.push({ kind: "pod", id: text });
  if (topology.zones.has(text)) found.push({ kind: "zone", id: text });
  if (found.length === 0) {
    throw new IpamdError("NOT_FOUND", `${field}: ${text} is no TOR, pod or zone`);
  }
  if (found.length > 1) {
    throw new IpamdError(
      "INVALID_ARGUMENT",
      `${field}: ${text} names several levels; write ${found.map((f) => `${f.kind}:${text}`).join(" or ")}`,
    );
  }
  return found[0] as ScopeRef;
}

function nodesBeneath(topology: Topology, level: StatsLevel, id: string): number {
  if (level !== "zone" && level !== "pod" && level !== "tor") return 0;
  let n = 0;
  for (const node of topology.nodes.values()) {
    const tor = topology.tors.get(node.tor);
    if (tor === undefined) continue;
    if (level === "tor" && tor.id === id) n++;
    else if (level === "pod" && tor.pod === id) n++;
    else if (level === "zone" && topology.pods.get(tor.pod)?.zone === id) n++;
  }
  return n;
}

function byLease(a: BlockLease, b: BlockLease): number {
  if (a.subnet.id !== b.subnet.id) return a.subnet.id < b.subnet.id ? -1 : 1;
  return Cidr.compare(Cidr.parse(a.cidr), Cidr.parse(b.cidr));
}

/** The value of a command's result; a refusal throws as an IpamdError keeping its details. */
function unwrap<T>(result: CommandResult, what: string): T {
  if (result.ok) return result.value as T;
  throw refusal(result, { ...result.error.details, command: what });
}

/**
 * The Cluster API's data RPCs (everything but membership) over a replicated cluster: each write
 * becomes one ClusterCommand through `cluster.execute` (one Raft entry; batched RPCs become one
 * `batch` command), each read runs against the replica's ClusterState through `cluster.read`
 * (linearizable unless the request sets `allow_stale`). Requests are validated here and errors
 * name the request field (`items[2].node_id: must not be empty`).
 */
export function clusterDataHandlers(
  cluster: ClusterDataSource,
  options: ClusterDataOptions = {},
): Partial<ClusterHandlers> {
  const now = options.now ?? Date.now;
  const maxBatch = options.maxBatch ?? 10_000;
  let applying = Promise.resolve();

  const checkBatch = (field: string, n: number): void => {
    if (n > maxBatch) {
      throw new IpamdError("INVALID_ARGUMENT", `${field}: at most ${maxBatch} per call, got ${n}`);
    }
  };

  const directItem = (item: DirectAllocateItem, i: number, at: number): ClusterCommand => {
    const f = `items[${i}]`;
    const command = {
      type: "allocate-direct" as const,
      at,
      node: requireText(`${f}.node_id`, item.nodeId),
      purpose: requireText(`${f}.purpose`, item.purpose),
      family: requireFamily(`${f}.family`, item.family),
      key: {
        network: requireText(`${f}.network`, item.network),
        containerId: requireText(`${f}.container_id`, item.containerId),
        ifname: item.ifname === "" ? "eth0" : item.ifname,
      },
    };
    return item.requestedAddress === "" ? command : { ...command, address: item.requestedAddress };
  };

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

    leaseBlock: async (req) => {
      const node = requireText("node_id", req.nodeId);
      const subnet = req.subnetId === "" ? undefined : req.subnetId;
      const purpose =
        subnet === undefined ? requireText("purpose", req.purpose) : req.purpose || undefined;
      const family =
        subnet === undefined
          ? requireFamily("family", req.family)
          : optionalFamily("family", req.family);
      if (req.requestId.length > 128) {
        throw new IpamdError("INVALID_ARGUMENT", "request_id: at most 128 characters");
      }
      // The request id travels in the command: the state machine answers a retry (after a lost
      // answer or a leader change) with the block the first attempt leased, on every replica.
      const r = await cluster.execute({
        type: "lease-block",
        at: now(),
        node,
        ...(subnet === undefined ? {} : { subnet }),
        ...(purpose === undefined ? {} : { purpose }),
        ...(family === undefined ? {} : { family }),
        ...(req.requestId === "" ? {} : { requestId: req.requestId }),
      });
      const lease = r.value;
      return { block: wireBlock(lease) };
    },

    releaseBlock: async (req) => {
      const node = requireText("node_id", req.nodeId);
      const cidr = requireText("cidr", req.cidr);
      if (Cidr.tryParse(cidr) === undefined) {
        throw new IpamdError("INVALID_ARGUMENT", `cidr: ${cidr} is not a valid CIDR`);
      }
      try {
        await cluster.execute({ type: "release-block", at: now(), node, cidr });
        return { released: true };
      } catch (err) {
        if (err instanceof IpamdError && err.code === "NOT_FOUND") return { released: false };
        throw err;
      }
    },

    allocateDirect: async (req) => {
      checkBatch("items", req.items.length);
      if (req.items.length === 0) return { results: [] };
      const at = now();
      const commands = req.items.map((item, i) => directItem(item, i, at));
      const r = await cluster.execute({ type: "batch", at, commands });
      return {
        results: r.value.map((one) =>
          one.ok
            ? {
                result: {
                  case: "address" as const,
                  value: wireDirectAddress(one.value as DirectAllocateValue),
                },
              }
            : {
                result: {
                  case: "error" as const,
                  value: { code: toIpamdCode(one.error.code), message: one.error.message },
                },
              },
        ),
      };
    },

    releaseDirect: async (req) => {
      checkBatch("keys", req.keys.length);
      if (req.keys.length === 0) return { results: [] };
      const at = now();
      const keys = req.keys.map((k, i) => ({
        network: requireText(`keys[${i}].network`, k.network),
        containerId: requireText(`keys[${i}].container_id`, k.containerId),
        ifname: k.ifname === "" ? "eth0" : k.ifname,
      }));
      const r = await cluster.execute({
        type: "batch",
        at,
        commands: keys.map((key) => ({ type: "release-direct" as const, at, key })),
      });
      return {
        results: r.value.map((one, i) => ({
          key: keys[i],
          addresses: unwrap<readonly DirectAllocation[]>(one, "release-direct").map(
            (d) => d.address,
          ),
        })),
      };
    },

    getStats: async (req) => {
      const level = LEVELS.get(req.level);
      if (level === undefined) {
        throw new IpamdError(
          "INVALID_ARGUMENT",
          "level: must be one of STATS_LEVEL_ZONE, _POD, _TOR, _SUBNET, _PURPOSE",
        );
      }
      const family = optionalFamily("family", req.family);
      return cluster.read(
        (s) => {
          const topology = s.topology();
          const rows = s.stats(level, {
            ...(req.purpose === "" ? {} : { purpose: req.purpose }),
            ...(family === undefined ? {} : { family }),
            ...(req.id === "" ? {} : { id: req.id }),
          });
          return {
            entries: rows.map((r) => ({
              level: req.level,
              id: r.id,
              counts: {
                capacity: String(r.capacity),
                allocated: String(r.allocated),
                reserved: String(r.reserved),
                coolingDown: String(r.cooling),
                free: String(r.free),
              },
              blocksLeased: BigInt(r.leasedBlocks),
              subnets: r.subnets,
              nodes: nodesBeneath(topology, level, r.id),
            })),
          };
        },
        { stale: req.allowStale },
      );
    },

    listBlocks: async (req) => {
      const size = req.pageSize === 0 ? DEFAULT_PAGE : Math.min(req.pageSize, 10 * DEFAULT_PAGE);
      let after: { subnet: string; cidr: Cidr } | undefined;
      if (req.pageToken !== "") {
        const [subnet, cidrText] = req.pageToken.split("|");
        const cidr = cidrText === undefined ? undefined : Cidr.tryParse(cidrText);
        if (subnet === undefined || cidr === undefined) {
          throw new IpamdError("INVALID_ARGUMENT", "page_token: not a token this server issued");
        }
        after = { subnet, cidr };
      }
      return cluster.read(
        (s) => {
          const nodes = req.nodeId === "" ? s.nodes().map((n) => n.id) : [req.nodeId];
          const all: BlockLease[] = [];
          for (const n of nodes) {
            for (const l of s.nodeLeases(n)) {
              if (req.subnetId === "" || l.subnet.id === req.subnetId) all.push(l);
            }
          }
          all.sort(byLease);
          const start =
            after === undefined
              ? 0
              : all.findIndex(
                  (l) =>
                    l.subnet.id > after.subnet ||
                    (l.subnet.id === after.subnet &&
                      Cidr.compare(Cidr.parse(l.cidr), after.cidr) > 0),
                );
          const from = start < 0 ? all.length : start;
          const page = all.slice(from, from + size);
          const last = page[page.length - 1];
          return {
            blocks: page.map(wireBlock),
            nextPageToken:
              from + size < all.length && last !== undefined
                ? `${last.subnet.id}|${last.cidr}`
                : "",
          };
        },
        { stale: req.allowStale },
      );
    },

    getNodeLeases: async (req) => {
      const node = requireText("node_id", req.nodeId);
      return cluster.read((s) => ({
        nodeId: node,
        blocks: s.nodeLeases(node).map(wireBlock),
        direct: s.directAllocations(node).map((d) => ({
          key: d.key,
          address: wireDirectAddress(d),
          nodeId: d.node,
        })),
        raftIndex: BigInt(cluster.appliedIndex()),
      }));
    },
  };
}

/** The change lines `command` would produce on `state`, without changing it. */
function dryRun(
  state: ClusterState,
  command: ClusterCommand & { type: "apply-topology" },
): string[] {
  const copy = new (state.constructor as new () => ClusterState)();
  copy.restore(state.snapshot());
  const r = copy.apply(command);
  const value = unwrap<{ diff: TopologyDiff; removedNodes: readonly string[] }>(
    r,
    "apply-topology",
  );
  return changeLines(value.diff, value.removedNodes);
}
