import { Cidr, formatIPv4, formatIPv6, tryParseIp } from "@ipam/bitmap";
import type { Allocation } from "@ipam/grpc-server";
import { reservedIntervals } from "@ipam/topology";
import { listAllAllocations } from "../agent-reads.js";
import { usageError } from "../cli-error.js";
import { listAllBlocks, readTopology } from "../cluster-reads.js";
import type { CommandContext } from "../context.js";
import { EXIT } from "../exit-codes.js";

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

function holderOf(a: Allocation) {
  return {
    network: a.key?.network ?? "",
    containerId: a.key?.containerId ?? "",
    ifname: a.key?.ifname ?? "",
    podNamespace: a.podNamespace,
    podName: a.podName,
    since: new Date(Number(a.createdAtUnixMs)).toISOString(),
  };
}

/**
 * `show --ip ADDR`: the subnet and block of an address, the node its block is leased to, and
 * the container (and pod) holding it, read from that node's agent when `--node`/`--unix-socket`
 * name it. Exits 6 (not found) for an address in no subnet.
 */
export async function showIp(context: CommandContext, text: string): Promise<void> {
  const ip = tryParseIp(text.trim());
  if (ip === undefined) throw usageError("ip", `"${text}" is not an IPv4 or IPv6 address`);
  const address = ip.family === 4 ? formatIPv4(ip.value) : formatIPv6(ip.value);
  const value = BigInt(ip.value);
  const cluster = context.cluster();
  const topology = await readTopology(cluster);
  const subnet = [...topology.subnets.values()].find((s) => Cidr.parse(s.cidr).contains(ip));
  const out = context.output();
  if (subnet === undefined) {
    const data = { address, state: "outside" as AddressState };
    out.result("Address", data, () => `${address}: in no subnet of the topology`);
    context.setExitCode(EXIT.NOT_FOUND);
    return;
  }
  const where = {
    subnet: { id: subnet.id, cidr: subnet.cidr, purpose: subnet.purpose },
  };
  const done = (state: AddressState, extra: object, human: string) =>
    out.result("Address", { address, state, ...where, ...extra }, () => human);
  if (reservedIntervals(subnet).some((r) => r.start <= value && value <= r.end)) {
    done("reserved", {}, `${address}: reserved in ${subnet.id} (${subnet.cidr})`);
    return;
  }
  const direct = subnet.blockPrefix === (subnet.family === 6 ? 128 : 32);
  let node: string | undefined;
  let block: string | undefined;
  if (direct) {
    for (const n of [...topology.nodes.keys()]) {
      const leases = await cluster.getNodeLeases({ nodeId: n });
      const d = leases.direct.find((x) => x.address?.address === address);
      if (d !== undefined) {
        done(
          "held",
          {
            node: n,
            holder: {
              network: d.key?.network ?? "",
              containerId: d.key?.containerId ?? "",
              ifname: d.key?.ifname ?? "",
            },
          },
          `${address}: held (direct mode) in ${subnet.id} by ${d.key?.containerId}/${d.key?.ifname} on node ${n}`,
        );
        return;
      }
    }
    done("free", {}, `${address}: free in ${subnet.id} (direct mode)`);
    return;
  }
  const leased = await listAllBlocks(cluster, { subnetId: subnet.id });
  const hit = leased.find((b) => Cidr.parse(b.cidr).contains(ip));
  if (hit === undefined) {
    done("free", {}, `${address}: free in ${subnet.id} (${subnet.cidr}): no block leased there`);
    return;
  }
  node = hit.nodeId;
  block = hit.cidr;
  const agents = context.agents();
  for (const a of agents) {
    const status = await a.client.status({});
    if (status.nodeId !== node) continue;
    const record = (await listAllAllocations(a.client)).find((r) =>
      r.addresses.some((x) => x.address === address),
    );
    if (record === undefined) {
      done(
        "not-held",
        { block, node },
        `${address}: in block ${block} of node ${node}, held by no container there (free or cooling down)`,
      );
      return;
    }
    const holder = holderOf(record);
    const pod = holder.podName === "" ? "" : ` pod ${holder.podNamespace}/${holder.podName},`;
    done(
      "held",
      { block, node, holder },
      `${address}: held on node ${node} (block ${block} of ${subnet.id}) by${pod} container ${holder.containerId} ${holder.ifname} (network ${holder.network}) since ${holder.since}`,
    );
    return;
  }
  done(
    "unknown",
    { block, node },
    `${address}: in block ${block} leased to node ${node}; give that node's agent (--node ADDR) to see who holds it`,
  );
}
