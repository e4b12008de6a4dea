import { Cidr, formatIPv4, formatIPv6, tryParseIp } from "@ipam/bitmap";
import type { Allocation } from "@ipam/grpc-server";
import { reservedIntervals } from "@ipam/topology";
import { listAllAllocations } from "./agent-reads.js";
import { usageError } from "./cli-error.js";
import { listAllBlocks, readTopology } from "./cluster-reads.js";
import type { KeyView } from "./consistency.js";
import type { AgentLink, CommandContext } from "./context.js";

/** Where an address stands, as `show --ip` prints it. */
export type AddressState =
  /** A container holds it (`holder` says which). */
  | "held"
  /** In a block leased to `node`, held by no record on that node (free or cooling down there). */
  | "not-held"
  /** In a leased block whose holder's agent was not read: give it with --node. */
  | "unknown"
  /** In the subnet, in no leased block (block mode) and not allocated (direct mode). */
  | "free"
  /** Never handed out: network/broadcast, gateway or a configured reserved range. */
  | "reserved"
  /** In no subnet of the topology. */
  | "outside";

/** The holder of an address: its owner key and, from its record, the pod and since when. */
export interface HolderView extends KeyView {
  readonly podNamespace?: string;
  readonly podName?: string;
  readonly since?: string;
}

/** Everything `show --ip` and `release --ip` need to know about one address. */
export interface AddressLocation {
  readonly address: string;
  readonly state: AddressState;
  readonly subnet?: { readonly id: string; readonly cidr: string; readonly purpose: string };
  readonly block?: string;
  readonly node?: string;
  readonly holder?: HolderView;
  /** True for a direct-mode address: held in the cluster state itself. */
  readonly direct?: boolean;
  /** The agent that holds the record (not printed). */
  readonly agent?: AgentLink;
}

function holderOf(a: Allocation): HolderView {
  return {
    network: a.key?.network ?? "",
    containerId: a.key?.containerId ?? "",
    ifname: a.key?.ifname ?? "",
    podNamespace: a.podNamespace,
    podName: a.podName,
    since: new Date(Number(a.createdAtUnixMs)).toISOString(),
  };
}

/** The agent of `node` among the given ones and its record holding `address`, if any. */
async function recordOn(
  agents: readonly AgentLink[],
  node: string,
  address: string,
): Promise<{ agent: AgentLink; record: Allocation | undefined } | undefined> {
  for (const a of agents) {
    if (a.nodeId !== undefined && a.nodeId !== node) continue;
    const status = await a.client.status({});
    if (status.nodeId !== node) continue;
    const record = (await listAllAllocations(a.client)).find((r) =>
      r.addresses.some((x) => x.address === address),
    );
    return { agent: a, record };
  }
  return undefined;
}

/**
 * Finds `text` (an IPv4 or IPv6 address) from anywhere: its subnet (topology), its block and
 * the node leased it (ListBlocks), and the container holding it from that node's agent when
 * `--node`/`--unix-socket` give it; a direct-mode address from the cluster's direct
 * allocations (and the node's record when its agent is given).
 * @throws CliError (usage) naming `flag` when `text` is not an address.
 */
export async function locateAddress(
  context: CommandContext,
  text: string,
  flag = "ip",
): Promise<AddressLocation> {
  const ip = tryParseIp(text.trim());
  if (ip === undefined) throw usageError(flag, `"${text}" is not an IPv4 or IPv6 address`);
  const address = ip.family === 4 ? formatIPv4(ip.value) : formatIPv6(ip.value);
  const value = BigInt(ip.value);
  const cluster = context.cluster();
  const topology = await readTopology(cluster);
  const s = [...topology.subnets.values()].find((x) => Cidr.parse(x.cidr).contains(ip));
  if (s === undefined) return { address, state: "outside" };
  const subnet = { id: s.id, cidr: s.cidr, purpose: s.purpose };
  if (reservedIntervals(s).some((r) => r.start <= value && value <= r.end)) {
    return { address, state: "reserved", subnet };
  }
  if (s.blockPrefix === (s.family === 6 ? 128 : 32)) {
    for (const node of [...topology.nodes.keys()]) {
      const d = (await cluster.getNodeLeases({ nodeId: node })).direct.find(
        (x) => x.address?.address === address,
      );
      if (d === undefined) continue;
      const found = await recordOn(context.agents(), node, address);
      const key = {
        network: d.key?.network ?? "",
        containerId: d.key?.containerId ?? "",
        ifname: d.key?.ifname ?? "",
      };
      return {
        address,
        state: "held",
        subnet,
        node,
        direct: true,
        holder: found?.record === undefined ? key : holderOf(found.record),
        ...(found === undefined ? {} : { agent: found.agent }),
      };
    }
    return { address, state: "free", subnet, direct: true };
  }
  const hit = (await listAllBlocks(cluster, { subnetId: s.id })).find((b) =>
    Cidr.parse(b.cidr).contains(ip),
  );
  if (hit === undefined) return { address, state: "free", subnet };
  const where = { subnet, block: hit.cidr, node: hit.nodeId };
  const found = await recordOn(context.agents(), hit.nodeId, address);
  if (found === undefined) return { address, state: "unknown", ...where };
  if (found.record === undefined)
    return { address, state: "not-held", ...where, agent: found.agent };
  return { address, state: "held", ...where, holder: holderOf(found.record), agent: found.agent };
}

/** The location as printed (`--json` and text): everything but the agent link. */
export function locationView(l: AddressLocation): Omit<AddressLocation, "agent"> {
  const { agent: _agent, ...view } = l;
  return view;
}

/** One line for a person about where an address stands. */
export function locationText(l: AddressLocation): string {
  const a = l.address;
  const h = l.holder;
  const pod =
    h?.podName === undefined || h.podName === "" ? "" : ` pod ${h.podNamespace}/${h.podName},`;
  const since = h?.since === undefined ? "" : ` since ${h.since}`;
  switch (l.state) {
    case "outside":
      return `${a}: in no subnet of the topology`;
    case "reserved":
      return `${a}: reserved in ${l.subnet?.id} (${l.subnet?.cidr})`;
    case "free":
      return l.direct === true
        ? `${a}: free in ${l.subnet?.id} (direct mode)`
        : `${a}: free in ${l.subnet?.id} (${l.subnet?.cidr}): no block leased there`;
    case "unknown":
      return `${a}: in block ${l.block} leased to node ${l.node}; give that node's agent (--node ADDR) to see who holds it`;
    case "not-held":
      return `${a}: in block ${l.block} of node ${l.node}, held by no container there (free or cooling down)`;
    case "held":
      return `${a}: held on node ${l.node} (${l.direct === true ? "direct mode" : `block ${l.block}`} of ${l.subnet?.id}) by${pod} container ${h?.containerId} ${h?.ifname} (network ${h?.network})${since}`;
  }
}
