import { Cidr } from "@ipam/bitmap";
import type { ClusterHandlers, DirectAllocateItem } from "@ipam/grpc-server";
import { jsonSafeDetails } from "@ipam/grpc-server";
import type {
  AllocateDirectValue,
  BlockLease,
  ClusterCommand,
  DirectAllocation,
  StatsLevel,
} from "@ipam/subnet-pool";
import { purposeStrategy, type Topology } from "@ipam/topology";
import type { Logger } from "pino";
import { wireFamily } from "../allocated-address.js";
import { IpamdError } from "../ipamd-error.js";
import { keyOf, requireText } from "../request-fields.js";
import { logCarved } from "./carve-log.js";
import type { ClusterDataSource } from "./cluster-data-handlers.js";
import { toIpamdCode, unwrap } from "./cluster-errors.js";
import {
  LEVELS,
  optionalFamily,
  requireFamily,
  wireBlock,
  wireDirectAddress,
} from "./cluster-wire.js";
import { statsEntries } from "./reported-usage.js";
import { nodesBeneath } from "./topology-changes.js";

const DEFAULT_PAGE = 1000;

/**
 * The strategy GetStats reports for a row: the purpose's at the purpose level, the one that
 * governs the subnet at the subnet level (its own override, else its purpose's), else empty.
 */
function strategyOf(topology: Topology, level: StatsLevel, id: string): string {
  if (level === "purpose") return purposeStrategy(topology, id);
  if (level !== "subnet") return "";
  const subnet = topology.subnets.get(id);
  return subnet === undefined ? "" : (subnet.strategy ?? purposeStrategy(topology, subnet.purpose));
}

function byLease(a: BlockLease, b: BlockLease): number {
  if (a.subnet.id !== b.subnet.id) return a.subnet.id < b.subnet.id ? -1 : 1;
  return Cidr.compare(Cidr.parse(a.cidr), Cidr.parse(b.cidr));
}

/**
 * The Cluster API's allocation RPCs: Lease/ReleaseBlock, Allocate/ReleaseDirect (one `batch`
 * command per call, at most `maxBatch` items), GetStats, ListBlocks (paged) and GetNodeLeases.
 * See {@link clusterDataHandlers}.
 */
export function clusterAllocationHandlers(
  cluster: ClusterDataSource,
  now: () => number,
  maxBatch: number,
  log?: Pick<Logger, "info">,
): Partial<ClusterHandlers> {
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
      key: keyOf(item, `${f}.`),
    };
    return item.requestedAddress === "" ? command : { ...command, address: item.requestedAddress };
  };

  return {
    leaseBlock: async (req) => {
      const node = requireText("node_id", req.nodeId);
      const subnet = req.subnetId === "" ? undefined : req.subnetId;
      const address = req.address === "" ? undefined : req.address;
      const purpose =
        subnet === undefined || address !== undefined
          ? requireText("purpose", req.purpose)
          : req.purpose || undefined;
      // With an address, the family is the address's (a family given must agree).
      const family =
        subnet === undefined && address === undefined
          ? requireFamily("family", req.family)
          : optionalFamily("family", req.family);
      if (req.requestId.length > 128) {
        throw new IpamdError("INVALID_ARGUMENT", "request_id: at most 128 characters");
      }
      // The request id travels in the command: the state machine answers a retry (after a lost
      // answer or a leader change) with the block the first attempt leased, on every replica.
      // Among equal subnets the least used serves first (docs/subnet-pool.md).
      const r = await cluster.execute({
        type: "lease-block",
        at: now(),
        node,
        ...(subnet === undefined ? {} : { subnet }),
        ...(purpose === undefined ? {} : { purpose }),
        ...(family === undefined ? {} : { family }),
        ...(req.requestId === "" ? {} : { requestId: req.requestId }),
        ...(address === undefined ? {} : { address }),
        order: "least-used",
      });
      const lease = r.value;
      if (log !== undefined) logCarved(log, node, lease.carved);
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

    claimBlock: async (req) => {
      const node = requireText("node_id", req.nodeId);
      const cidr = requireText("cidr", req.cidr);
      if (Cidr.tryParse(cidr) === undefined) {
        throw new IpamdError("INVALID_ARGUMENT", `cidr: ${cidr} is not a valid CIDR`);
      }
      const r = await cluster.execute({ type: "claim-block", at: now(), node, cidr });
      return { block: wireBlock(r.value) };
    },

    allocateDirect: async (req) => {
      checkBatch("items", req.items.length);
      if (req.items.length === 0) return { results: [] };
      const at = now();
      const commands = req.items.map((item, i) => directItem(item, i, at));
      const r = await cluster.execute({ type: "batch", at, commands });
      if (log !== undefined)
        for (const one of r.value)
          if (one.ok) {
            const v = one.value as AllocateDirectValue;
            logCarved(log, v.node, v.carved);
          }
      return {
        results: r.value.map((one) =>
          one.ok
            ? {
                result: {
                  case: "address" as const,
                  value: wireDirectAddress(one.value as AllocateDirectValue),
                },
              }
            : {
                result: {
                  case: "error" as const,
                  value: {
                    code: toIpamdCode(one.error.code),
                    message: one.error.message,
                    detailsJson: JSON.stringify(jsonSafeDetails(one.error.details)),
                  },
                },
              },
        ),
      };
    },

    releaseDirect: async (req) => {
      checkBatch("keys", req.keys.length);
      if (req.keys.length === 0) return { results: [] };
      const at = now();
      const keys = req.keys.map((k, i) => keyOf(k, `keys[${i}].`));
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
          const at = now();
          const origins =
            level === "subnet"
              ? new Map(s.subnets().map((v) => [v.subnet.id, v.origin]))
              : undefined;
          const rows = statsEntries(s, cluster.reports, level, {
            ...(req.purpose === "" ? {} : { purpose: req.purpose }),
            ...(family === undefined ? {} : { family }),
            ...(req.id === "" ? {} : { id: req.id }),
          });
          return {
            entries: rows.map((r) => ({
              level: req.level,
              id: r.id,
              family: wireFamily(r.family),
              counts: {
                capacity: r.capacity.toString(),
                reserved: r.reserved.toString(),
                leased: r.leased.toString(),
                held: r.held.toString(),
                allocated: r.held.toString(),
                coolingDown: r.cooling.toString(),
                free: r.free.toString(),
                heldUnreportedBlocks: BigInt(r.unreportedBlocks),
                heldReportedAtUnixMs: BigInt(r.oldestReportAt ?? 0),
                heldReportAgeMs: BigInt(
                  r.oldestReportAt === undefined ? 0 : Math.max(0, at - r.oldestReportAt),
                ),
              },
              blocksLeased: BigInt(r.leasedBlocks),
              subnets: r.subnets,
              nodes: nodesBeneath(topology, level, r.id),
              strategy: strategyOf(topology, level, r.id),
              origin: origins?.get(r.id) ?? "",
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
