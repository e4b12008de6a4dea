import { Cidr, tryParseIp } from "@ipam/bitmap";
import type {
  Allocation,
  Block,
  ClusterClient,
  DirectAllocation,
  RuntimeView,
} from "@ipam/grpc-server";
import { listAllAllocations } from "./agent-reads.js";
import { listAllBlocks, readTopology } from "./cluster-reads.js";
import type { AgentLink } from "./context.js";
import { type PodReader, podGoneReason } from "./kube-pods.js";

/**
 * The inconsistencies `check` finds between the cluster state and the agents' stores:
 * - `block-not-leased`: an agent holds a block (pods hold addresses there) that the cluster does
 *   not lease to it: free there (another node could be leased it: two holders) or leased to
 *   another node (two holders now).
 * - `leaked-direct-address`: the cluster holds a direct-mode address for a node whose agent has
 *   no record of it (nobody uses it; it is never handed out again).
 * - `dead-node`: a node named with `--node NODE=ADDR` whose agent does not answer, while the
 *   cluster still leases it blocks or holds direct addresses for it.
 * - `address-held-twice`: one address in the records of two agents (or two records).
 * - `agent-unreachable`: an agent given without its node name does not answer.
 * - `pod-gone` (with --kubeconfig/--kubernetes): a record whose pod (namespace/name recorded at
 *   ADD) no longer exists, or exists with another UID (a new pod of the same name).
 * - `runtime-gone`: a record of a network whose runtime ran CNI GC, created before the node
 *   received that GC's view, not among its valid attachments, and still present: the runtime no
 *   longer has that container (the GC's release of it failed, e.g. a direct-mode address while
 *   the cluster was unreachable).
 */
export type FindingType =
  | "block-not-leased"
  | "leaked-direct-address"
  | "dead-node"
  | "address-held-twice"
  | "agent-unreachable"
  | "pod-gone"
  | "runtime-gone";

/**
 * What `repair --from-report` does about a finding, after re-checking it: `lease-back` (lease
 * the block to the node that holds it, so it is never leased to another), `release-direct`
 * (release the leaked direct address), `declare-dead` (DeregisterNode dead: free what the gone
 * node held), `release-record` (release the record on its node's agent: its pod is gone, or its
 * container is gone from the runtime's view).
 * Null: not repaired by the tool (the report says what to do).
 */
export type RepairAction = "lease-back" | "release-direct" | "declare-dead" | "release-record";

/** A pod as an allocation record names it (K8S_POD_* at ADD); `uid` empty when not given. */
export interface PodView {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

/** An owner key, as printed. */
export interface KeyView {
  readonly network: string;
  readonly containerId: string;
  readonly ifname: string;
}

/** One inconsistency; `id` is stable within a report. */
export interface Finding {
  readonly id: string;
  readonly type: FindingType;
  readonly node: string;
  readonly block?: string;
  readonly subnet?: string;
  /** For `block-not-leased`: the node the cluster leases the block to; "" when free. */
  readonly leasedTo?: string;
  readonly addresses: readonly string[];
  readonly key?: KeyView;
  /** For `pod-gone`: the pod the record names. */
  readonly pod?: PodView;
  /** For `runtime-gone`: the runtime view that no longer lists the record's container. */
  readonly runtimeView?: RuntimeViewRef;
  readonly detail: string;
  readonly repair: RepairAction | null;
}

/** A runtime view as a finding names it: its network, when it arrived and its age at the check. */
export interface RuntimeViewRef {
  readonly network: string;
  /** When the node received the network's last CNI GC (ISO 8601). */
  readonly receivedAt: string;
  /** Seconds from `receivedAt` to the check (0 when the clocks disagree). */
  readonly ageSeconds: number;
}

/**
 * One network of one node as the runtime's CNI GC view covers it: `receivedAt` null when the
 * runtime never ran CNI GC for it on that node (its records cannot be checked against the
 * runtime; not a problem).
 */
export interface NetworkRuntimeView {
  readonly node: string;
  readonly network: string;
  readonly receivedAt: string | null;
  readonly ageSeconds: number | null;
  /** How many attachments the view lists as valid (0 without a view). */
  readonly validAttachments: number;
  /** How many records of the network the node holds. */
  readonly records: number;
}

/** An agent as `check` saw it. */
export interface AgentSeen {
  readonly address: string;
  readonly node: string | null;
  readonly reachable: boolean;
  readonly error?: string;
}

/** The report of `check` (and the input of `repair --from-report`). */
export interface CheckReport {
  readonly checkedAt: string;
  readonly agents: readonly AgentSeen[];
  readonly findings: readonly Finding[];
  /** Nodes holding blocks or direct addresses whose agent was not given: not checked. */
  readonly uncheckedNodes: readonly string[];
  /** Whether records were checked against the Kubernetes API (--kubeconfig/--kubernetes). */
  readonly kubernetes: boolean;
  /**
   * Per node and network (of its records or of its views): the runtime's last CNI GC view, or
   * none. Absent in reports of ipamctl before runtime views.
   */
  readonly runtimeViews?: readonly NetworkRuntimeView[];
}

/** What one reachable agent holds: its blocks and its records. */
export interface AgentState {
  readonly node: string;
  /** The agent's client (repair releases records through it). */
  readonly client: AgentLink["client"];
  readonly blocks: ReadonlySet<string>;
  readonly records: readonly Allocation[];
  /**
   * The node's last CNI GC view per network (GetRuntimeView), in network order; null when the
   * agent does not serve GetRuntimeView (an ipamd before it): its records are not checked
   * against the runtime.
   */
  readonly views: readonly RuntimeView[] | null;
}

/** Reads an agent's node id, blocks and records; throws the call's error. */
export async function readAgentState(agent: AgentLink): Promise<AgentState> {
  const [status, blocks, records, views] = await Promise.all([
    agent.client.status({}),
    agent.client.getNodeBlocks({}),
    listAllAllocations(agent.client),
    agent.client.getRuntimeView({ network: "" }).then(
      (r) => r.views,
      (err: unknown) => {
        if ((err as { code?: unknown }).code === "UNIMPLEMENTED") return null;
        throw err;
      },
    ),
  ]);
  return {
    node: status.nodeId,
    client: agent.client,
    blocks: new Set(blocks.blocks.map((b) => b.cidr)),
    records,
    views,
  };
}

const keyView = (k: { network: string; containerId: string; ifname: string } | undefined) => ({
  network: k?.network ?? "",
  containerId: k?.containerId ?? "",
  ifname: k?.ifname ?? "",
});

/** The held addresses of `records` inside `cidr`, sorted. */
export function addressesIn(records: readonly Allocation[], cidr: string): string[] {
  const block = Cidr.parse(cidr);
  const out: string[] = [];
  for (const r of records) {
    for (const a of r.addresses) {
      const ip = tryParseIp(a.address);
      if (ip !== undefined && block.contains(ip)) out.push(a.address);
    }
  }
  return out.sort();
}

/** True when `state`'s records hold `address` for `key`. */
export function recordHolds(state: AgentState, key: KeyView, address: string): boolean {
  return state.records.some(
    (r) =>
      r.key?.network === key.network &&
      r.key?.containerId === key.containerId &&
      r.key?.ifname === key.ifname &&
      r.addresses.some((a) => a.address === address),
  );
}

/**
 * The online consistency check: reads the cluster state (topology, every lease, every node's
 * direct addresses) and every given agent, without stopping allocation, and lists what does not
 * agree. An allocation racing the reads can show as a finding that is gone a moment later:
 * `repair` re-checks each one before it acts.
 */
export async function runCheck(
  cluster: ClusterClient,
  agents: readonly AgentLink[],
  now: Date,
  pods?: PodReader,
): Promise<CheckReport> {
  const seen: AgentSeen[] = [];
  const states: AgentState[] = [];
  const dead: string[] = [];
  await Promise.all(
    agents.map(async (a) => {
      try {
        const state = await readAgentState(a);
        states.push(state);
        seen.push({ address: a.address, node: state.node, reachable: true });
      } catch (err) {
        seen.push({
          address: a.address,
          node: a.nodeId ?? null,
          reachable: false,
          error: (err as Error).message,
        });
        if (a.nodeId !== undefined) dead.push(a.nodeId);
      }
    }),
  );
  const [topology, blocks] = await Promise.all([readTopology(cluster), listAllBlocks(cluster)]);
  const holderOf = new Map<string, Block>(blocks.map((b) => [b.cidr, b]));
  const nodes = new Set([...topology.nodes.keys(), ...blocks.map((b) => b.nodeId)]);
  const direct = new Map<string, DirectAllocation[]>();
  await Promise.all(
    [...nodes].map(async (n) => {
      direct.set(n, (await cluster.getNodeLeases({ nodeId: n })).direct);
    }),
  );

  const findings: Omit<Finding, "id">[] = [];
  for (const state of [...states].sort((a, b) => a.node.localeCompare(b.node))) {
    for (const cidr of [...state.blocks].sort()) {
      const lease = holderOf.get(cidr);
      if (lease?.nodeId === state.node) continue;
      const addresses = addressesIn(state.records, cidr);
      if (addresses.length === 0) continue; // nothing held: the agent returns it by itself
      const leasedTo = lease?.nodeId ?? "";
      findings.push({
        type: "block-not-leased",
        node: state.node,
        block: cidr,
        ...(lease === undefined ? {} : { subnet: lease.subnetId }),
        leasedTo,
        addresses,
        detail:
          leasedTo === ""
            ? `${state.node} holds ${addresses.length} addresses in ${cidr}, which the cluster has as free: it could lease it to another node`
            : `${state.node} holds ${addresses.length} addresses in ${cidr}, which the cluster leases to ${leasedTo}: two holders; move those pods off one node, then release their addresses there`,
        repair: leasedTo === "" ? "lease-back" : null,
      });
    }
    for (const d of direct.get(state.node) ?? []) {
      const key = keyView(d.key);
      const address = d.address?.address ?? "";
      if (recordHolds(state, key, address)) continue;
      findings.push({
        type: "leaked-direct-address",
        node: state.node,
        subnet: d.address?.subnetId ?? "",
        addresses: [address],
        key,
        detail: `the cluster holds ${address} for ${key.containerId}/${key.ifname} on ${state.node}, whose agent has no such record: nobody uses it`,
        repair: "release-direct",
      });
    }
  }
  for (const node of dead.sort()) {
    const held = blocks.filter((b) => b.nodeId === node).map((b) => b.cidr);
    const directHeld = (direct.get(node) ?? []).map((d) => d.address?.address ?? "");
    if (held.length === 0 && directHeld.length === 0) continue;
    findings.push({
      type: "dead-node",
      node,
      addresses: [...held, ...directHeld],
      detail: `${node}'s agent does not answer and the cluster still leases it ${held.length} blocks and ${directHeld.length} direct addresses: if the node is gone, repair declares it dead (its addresses can be handed out again)`,
      repair: "declare-dead",
    });
  }
  const runtimeViews: NetworkRuntimeView[] = [];
  for (const state of [...states].sort((a, b) => a.node.localeCompare(b.node))) {
    findings.push(...runtimeGoneFindings(state, now));
    runtimeViews.push(...networkViews(state, now));
  }
  if (pods !== undefined) {
    for (const state of [...states].sort((a, b) => a.node.localeCompare(b.node))) {
      findings.push(...(await podFindings(state, pods)));
    }
  }
  const holders = new Map<string, string[]>();
  for (const state of states) {
    for (const r of state.records) {
      for (const a of r.addresses) {
        const list = holders.get(a.address) ?? [];
        list.push(`${state.node}:${r.key?.containerId ?? ""}/${r.key?.ifname ?? ""}`);
        holders.set(a.address, list);
      }
    }
  }
  for (const [address, list] of [...holders].sort(([a], [b]) => a.localeCompare(b))) {
    if (list.length < 2) continue;
    findings.push({
      type: "address-held-twice",
      node: list.map((h) => h.split(":")[0]).join(","),
      addresses: [address],
      detail: `${address} is held by ${list.join(" and ")}: stop one of those containers`,
      repair: null,
    });
  }
  for (const a of seen) {
    if (a.reachable || a.node !== null) continue;
    findings.push({
      type: "agent-unreachable",
      node: "",
      addresses: [],
      detail: `the agent at ${a.address} does not answer (${a.error ?? ""}); name its node (--node NODE=${a.address}) to check what the cluster holds for it`,
      repair: null,
    });
  }
  const checked = new Set([...states.map((s) => s.node), ...dead]);
  const uncheckedNodes = [...nodes]
    .filter(
      (n) =>
        !checked.has(n) && (blocks.some((b) => b.nodeId === n) || (direct.get(n) ?? []).length > 0),
    )
    .sort();
  return {
    checkedAt: now.toISOString(),
    agents: seen.sort((a, b) => a.address.localeCompare(b.address)),
    findings: findings.map((f, i) => ({ id: `f${i + 1}`, ...f })),
    uncheckedNodes,
    kubernetes: pods !== undefined,
    runtimeViews,
  };
}

/** The key of `key` in a runtime view's attachment list. */
const attachmentKey = (containerId: string, ifname: string) => `${containerId}\u0000${ifname}`;

/**
 * The record of `state` that `key` names when it is `runtime-gone` against the node's current
 * view of its network (created before the view, not listed in it); with that view.
 */
export function runtimeGone(
  state: AgentState,
  key: KeyView,
): { readonly record: Allocation; readonly view: RuntimeView } | undefined {
  const record = state.records.find(
    (r) =>
      r.key?.network === key.network &&
      r.key?.containerId === key.containerId &&
      r.key?.ifname === key.ifname,
  );
  const view = state.views?.find((v) => v.network === key.network);
  if (record === undefined || view === undefined) return undefined;
  if (record.createdAtUnixMs >= view.receivedAtUnixMs) return undefined;
  const listed = new Set(view.validAttachments.map((a) => attachmentKey(a.containerId, a.ifname)));
  if (listed.has(attachmentKey(key.containerId, key.ifname))) return undefined;
  return { record, view };
}

/** A view as a finding names it, aged at `now`. */
export function viewRef(view: RuntimeView, now: Date): RuntimeViewRef {
  const at = Number(view.receivedAtUnixMs);
  return {
    network: view.network,
    receivedAt: new Date(at).toISOString(),
    ageSeconds: Math.max(0, Math.floor((now.getTime() - at) / 1000)),
  };
}

/** `runtime-gone` findings of one agent, in record (key) order. */
function runtimeGoneFindings(state: AgentState, now: Date): Omit<Finding, "id">[] {
  const out: Omit<Finding, "id">[] = [];
  for (const r of state.records) {
    const key = keyView(r.key);
    const gone = runtimeGone(state, key);
    if (gone === undefined) continue;
    const ref = viewRef(gone.view, now);
    const addresses = r.addresses.map((a) => a.address);
    out.push({
      type: "runtime-gone",
      node: state.node,
      addresses,
      key,
      runtimeView: ref,
      detail: `the runtime's last CNI GC of ${key.network} on ${state.node} (${ref.ageSeconds} s ago, ${ref.receivedAt}) does not list ${key.containerId}/${key.ifname}, created before it, but ${state.node} still holds ${addresses.join(", ")}: repair releases it`,
      repair: "release-record",
    });
  }
  return out;
}

/** Each network of `state` (of a record or a view) with its runtime view or none. */
function networkViews(state: AgentState, now: Date): NetworkRuntimeView[] {
  if (state.views === null) return [];
  const views = state.views;
  const networks = new Set([
    ...state.records.map((r) => r.key?.network ?? ""),
    ...views.map((v) => v.network),
  ]);
  return [...networks].sort().map((network) => {
    const view = views.find((v) => v.network === network);
    const ref = view === undefined ? undefined : viewRef(view, now);
    return {
      node: state.node,
      network,
      receivedAt: ref?.receivedAt ?? null,
      ageSeconds: ref?.ageSeconds ?? null,
      validAttachments: view?.validAttachments.length ?? 0,
      records: state.records.filter((r) => r.key?.network === network).length,
    };
  });
}

/** The pod a record names, or undefined when it names none (not a Kubernetes pod). */
export function podOf(r: Allocation): PodView | undefined {
  if (r.podName === "") return undefined;
  return { namespace: r.podNamespace, name: r.podName, uid: r.podUid };
}

/**
 * `pod-gone` findings of one agent: each record naming a pod is looked up with a fresh GET (one
 * per record, in key order; never a cache, so a pod created a moment ago is seen).
 */
async function podFindings(state: AgentState, pods: PodReader): Promise<Omit<Finding, "id">[]> {
  const out: Omit<Finding, "id">[] = [];
  for (const r of state.records) {
    const pod = podOf(r);
    if (pod === undefined) continue;
    const reason = podGoneReason(pod, await pods.readPod(pod.namespace, pod.name));
    if (reason === undefined) continue;
    const key = keyView(r.key);
    out.push({
      type: "pod-gone",
      node: state.node,
      addresses: r.addresses.map((a) => a.address),
      key,
      pod,
      detail: `${reason}, but ${state.node} still holds ${r.addresses.map((a) => a.address).join(", ")} for ${key.containerId}/${key.ifname}: repair releases it`,
      repair: "release-record",
    });
  }
  return out;
}
