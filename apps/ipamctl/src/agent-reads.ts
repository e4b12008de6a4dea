import { type Allocation, Family, type IpamClient, type NodeBlock } from "@ipam/grpc-server";
import { CliError } from "./cli-error.js";
import type { AgentLink } from "./context.js";

/** What one node's agent says about its blocks: per block, exact counts from its store. */
export interface AgentBlocks {
  readonly nodeId: string;
  readonly address: string;
  readonly blocks: readonly {
    readonly cidr: string;
    readonly subnetId: string;
    readonly family: "ipv4" | "ipv6";
    readonly capacity: bigint;
    readonly held: bigint;
    readonly cooling: bigint;
    /** How the node serves it: `leased`, `draining`, `revoked` or `lost` (GetNodeBlocks). */
    readonly state: string;
  }[];
}

/**
 * Per-block counts of one agent, exact, as GetNodeBlocks reports them from the node's store:
 * `allocated` (addresses its containers hold), `cooling_down`, and the block's state.
 */
async function blockCounts(client: IpamClient): Promise<AgentBlocks["blocks"]> {
  const r = await client.getNodeBlocks({});
  return r.blocks.map((b: NodeBlock) => ({
    cidr: b.cidr,
    subnetId: b.subnetId,
    family: b.family === Family.IPV6 ? ("ipv6" as const) : ("ipv4" as const),
    capacity: BigInt(b.capacity === "" ? "0" : b.capacity),
    held: b.allocated,
    cooling: b.coolingDown,
    state: b.state === "" ? "leased" : b.state,
  }));
}

/** Every allocation record of one agent, all pages, in key order. */
export async function listAllAllocations(client: IpamClient): Promise<Allocation[]> {
  const out: Allocation[] = [];
  let pageToken = "";
  do {
    const page = await client.listAllocations({
      network: "",
      purpose: "",
      pageSize: 500,
      pageToken,
    });
    out.push(...page.allocations);
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return out;
}

/**
 * The blocks of every agent `--node`/`--unix-socket` name, read at once (Status for its node
 * id, GetNodeBlocks for the counts). An agent that cannot be read fails the command (exit 4)
 * naming its address: an answer without it would silently miss its addresses.
 */
export async function readAgents(agents: readonly AgentLink[]): Promise<Map<string, AgentBlocks>> {
  const read = await Promise.all(
    agents.map(async (a): Promise<AgentBlocks> => {
      try {
        const [status, blocks] = await Promise.all([a.client.status({}), blockCounts(a.client)]);
        return { nodeId: status.nodeId, address: a.address, blocks };
      } catch (err) {
        throw new CliError(
          "AGENT_UNREACHABLE",
          `cannot read the agent at ${a.address} (--node/--unix-socket): ${(err as Error).message}`,
          { cause: err },
        );
      }
    }),
  );
  return new Map(read.map((r) => [r.nodeId, r]));
}
