import {
  type AllocateRequest,
  FamilySelection,
  type IpamHandlers,
  ReadyState,
  Family as WireFamily,
} from "@ipam/grpc-server";
import { type IpamMetrics, resultOf } from "@ipam/metrics";
import type { AllocationRecord } from "@ipam/subnet-pool";
import type { Family } from "@ipam/topology";
import { wireAddress, wireFamily } from "../allocated-address.js";
import { ifnameOf, keyOf, requireText } from "../request-fields.js";
import type { Agent } from "./agent.js";
import type { AllocationRequest, Attachment } from "./allocation-request.js";
import type { NodeStatus } from "./node-views.js";

// The Ipam gRPC API over an Agent: validates and normalises each request once (naming the
// request field), calls the agent with plain values, maps the answer to the wire, and counts
// the request in the metrics.

/** The purpose a request means: empty is `default`. */
function purposeOf(text: string): string {
  return text === "" ? "default" : text;
}

/** The families a selection asks for; undefined for FAMILY_SELECTION_UNSPECIFIED (IPv4). */
function familiesOf(selection: FamilySelection): Family[] | undefined {
  switch (selection) {
    case FamilySelection.IPV4:
      return [4];
    case FamilySelection.IPV6:
      return [6];
    case FamilySelection.DUAL_STACK:
      return [4, 6];
    default:
      return undefined;
  }
}

/** An Allocate request as the agent takes it. */
export function toAllocationRequest(req: AllocateRequest): AllocationRequest {
  const families = familiesOf(req.families);
  return {
    key: keyOf(req),
    purpose: purposeOf(req.purpose),
    ...(families === undefined ? {} : { families }),
    pod: { namespace: req.podNamespace, name: req.podName, uid: req.podUid ?? "" },
    // In-process callers may pass a partial request; the wire always fills the list.
    ...((req.requestedAddresses ?? []).length === 0
      ? {}
      : { requestedAddresses: [...req.requestedAddresses] }),
  };
}

const READY_STATES: Readonly<Record<NodeStatus["state"], ReadyState>> = {
  READY: ReadyState.READY,
  UNAVAILABLE: ReadyState.UNAVAILABLE,
  EXHAUSTED: ReadyState.EXHAUSTED,
};

/** One GC pass: a run, and its reclaimed records per purpose (each was a candidate). */
function countGc(metrics: IpamMetrics, reclaimed: readonly AllocationRecord[]): void {
  metrics.gcRuns.inc({ result: "ok" });
  const perPurpose = new Map<string, number>();
  for (const r of reclaimed) perPurpose.set(r.purpose, (perPurpose.get(r.purpose) ?? 0) + 1);
  for (const [purpose, n] of perPurpose) {
    metrics.gcCandidates.inc({ purpose }, n);
    metrics.gcReclaimed.inc({ purpose }, n);
  }
}

const seconds = (started: number) => (performance.now() - started) / 1000;

/**
 * The Ipam service handlers of `agent`. With `metrics`: one allocation per requested family
 * (`ok` with the subnet, or the error code), one release per released address (or one for a
 * key that held nothing), GC runs and reclaimed records per purpose.
 */
export function ipamHandlers(agent: Agent, metrics?: IpamMetrics): Partial<IpamHandlers> {
  return {
    allocate: async (req) => {
      const started = performance.now();
      try {
        const { purpose, addresses } = await agent.allocate(toAllocationRequest(req));
        const took = seconds(started);
        for (const a of addresses) {
          metrics?.observeAllocation("ok", { purpose, family: a.family, subnet: a.subnet }, took);
        }
        return { addresses: addresses.map((a) => wireAddress(a, purpose)) };
      } catch (err) {
        const took = seconds(started);
        const purpose = purposeOf(req.purpose);
        for (const family of familiesOf(req.families) ?? [4]) {
          metrics?.observeAllocation(resultOf(err), { purpose, family }, took);
        }
        throw err;
      }
    },
    release: async (req) => {
      const started = performance.now();
      try {
        const record = await agent.release(keyOf(req));
        const took = seconds(started);
        if (record === undefined) metrics?.observeRelease("ok", {}, took);
        for (const a of record?.addresses ?? []) {
          metrics?.observeRelease(
            "ok",
            { purpose: record?.purpose ?? "", family: a.family, subnet: a.subnet },
            took,
          );
        }
        return {
          released: record !== undefined,
          addresses: record?.addresses.map((a) => a.address) ?? [],
        };
      } catch (err) {
        metrics?.observeRelease(resultOf(err), {}, seconds(started));
        throw err;
      }
    },
    check: (req) => {
      const r = agent.check(keyOf(req), req.addresses);
      if (r.record === undefined) return { ok: r.ok, reason: r.reason };
      const purpose = r.record.purpose;
      return {
        ok: r.ok,
        reason: r.reason,
        addresses: r.record.addresses.map((a) => wireAddress(a, purpose)),
      };
    },
    garbageCollect: async (req) => {
      const network = requireText("network", req.network);
      const alive: Attachment[] = req.validAttachments.map((v) => ({
        containerId: v.containerId,
        ifname: ifnameOf(v.ifname),
      }));
      let released: AllocationRecord[];
      try {
        released = await agent.gc(network, alive);
      } catch (err) {
        metrics?.gcRuns.inc({ result: resultOf(err) });
        throw err;
      }
      if (metrics !== undefined) countGc(metrics, released);
      return { released: released.map((r) => r.key) };
    },
    getNodeBlocks: (req) => ({
      nodeId: agent.nodeId,
      blocks: agent
        .nodeBlocks({
          ...(req.subnetId === "" ? {} : { subnetId: req.subnetId }),
          ...(req.purpose === "" ? {} : { purpose: req.purpose }),
        })
        .map((b) => ({
          cidr: b.cidr,
          subnetId: b.subnet.id,
          purpose: b.subnet.purpose,
          family: wireFamily(b.subnet.family),
          capacity: String(b.capacity),
          allocated: BigInt(b.held),
          coolingDown: BigInt(b.cooling),
          leasedAtUnixMs: BigInt(b.leasedAt),
          state: b.state,
        })),
    }),
    getPoolStats: (req) => {
      const family = req.family === WireFamily.IPV4 ? 4 : req.family === WireFamily.IPV6 ? 6 : 0;
      return {
        subnets: agent
          .poolStats({
            ...(req.purpose === "" ? {} : { purpose: req.purpose }),
            ...(family === 0 ? {} : { family }),
          })
          .map((u) => ({
            subnetId: u.subnet,
            cidr: u.cidr,
            purpose: u.purpose,
            family: wireFamily(u.family),
            counts: {
              capacity: String(u.capacity),
              reserved: String(u.reserved),
              leased: String(u.capacity),
              held: String(u.allocated),
              allocated: String(u.allocated),
              coolingDown: String(u.cooling),
              free: String(u.free),
            },
            blocksTotal: u.blocksTotal.toString(),
            nodeBlocks: u.blocks,
          })),
      };
    },
    getRuntimeView: (req) => ({
      views: agent.runtimeViews(req.network === "" ? undefined : req.network).map((v) => ({
        network: v.network,
        receivedAtUnixMs: BigInt(v.receivedAt),
        validAttachments: v.validAttachments.map((a) => ({
          containerId: a.containerId,
          ifname: a.ifname,
        })),
      })),
    }),
    status: async (req) => {
      const s = await agent.status({
        purpose: purposeOf(req.purpose ?? ""),
        families: familiesOf(req.families) ?? [4],
      });
      return { state: READY_STATES[s.state], reason: s.reason, nodeId: agent.nodeId };
    },
    listAllocations: (req) => ({
      allocations: agent
        .allocations({
          ...(req.network === "" ? {} : { network: req.network }),
          ...(req.purpose === "" ? {} : { purpose: req.purpose }),
        })
        .map(({ stored: r, addresses }) => ({
          key: { network: r.network, containerId: r.containerId, ifname: r.ifname },
          addresses: addresses.map((a) => wireAddress(a, r.purpose)),
          podNamespace: r.podNamespace ?? "",
          podName: r.podName ?? "",
          podUid: r.podUid ?? "",
          purpose: r.purpose,
          createdAtUnixMs: BigInt(r.createdAt),
          nodeId: r.node,
        })),
    }),
  };
}
