import type { Command } from "commander";
import { listAllAllocations } from "../agent-reads.js";
import { CliError, usageError } from "../cli-error.js";
import type { CommandContext } from "../context.js";
import { type AddressLocation, locateAddress, locationText } from "../locate-address.js";

interface ReleaseOptions {
  ip?: string;
  container?: string;
  network?: string;
  ifname?: string;
  force?: boolean;
}

/** The message of a release refused because a container still holds the address. */
function heldBy(where: string, holder: string): string {
  return `${where} is held by ${holder}, whose record is live on its node: refused. If that container is gone for good, --force releases it (if it still runs, its address can be handed to another pod: two holders)`;
}

/**
 * `release --ip ADDR | --container ID --node NODE`: release a leaked address. Refused while a
 * live record holds it (ipamctl cannot see the container runtime: a record its node still keeps
 * counts as a present holder) unless --force; an address the cluster holds with no record on
 * its node (a leaked direct address) is released without it.
 */
export function register(program: Command, context: CommandContext): void {
  program
    .command("release")
    .description(
      "release a leaked address: --ip ADDR, or --container ID --node [NODE=]AGENT (the node's agent)",
    )
    .option("--ip <address>", "the address")
    .option(
      "--container <id>",
      "the container id (CNI_CONTAINERID) whose addresses to release, on the agents --node/--unix-socket give",
    )
    .option("--network <name>", "with --container: only this CNI network")
    .option("--ifname <name>", "with --container: only this interface")
    .option(
      "--force",
      "release even while a live record holds it (the container may still use the address: it can be handed out twice)",
    )
    .action(async (opts: ReleaseOptions) => {
      if ((opts.ip === undefined) === (opts.container === undefined)) {
        throw usageError("ip", "give --ip ADDR or --container ID --node NODE (one of them)");
      }
      const out = context.output();
      if (opts.ip !== undefined) {
        const where = await locateAddress(context, opts.ip);
        await releaseAt(context, where, opts.force === true);
        return;
      }
      const agents = context.agents();
      if (agents.length === 0) {
        throw usageError(
          "node",
          "--container needs the agent of its node: --node [NODE=]ADDR or --unix-socket",
        );
      }
      const found = [];
      for (const agent of agents) {
        const node = (await agent.client.status({})).nodeId;
        const mine = (await listAllAllocations(agent.client)).filter(
          (r) =>
            r.key?.containerId === opts.container &&
            (opts.network === undefined || r.key?.network === opts.network) &&
            (opts.ifname === undefined || r.key?.ifname === opts.ifname),
        );
        if (mine.length > 0) found.push({ agent, node, records: mine });
      }
      if (found.length > 1) {
        throw new CliError(
          "REFUSED",
          `${opts.container} has records on ${found.map((f) => f.node).join(" and ")}: give only the agent of the node to release it on`,
        );
      }
      const agent = found[0]?.agent;
      const node = found[0]?.node ?? "the given agents";
      const records = found[0]?.records ?? [];
      if (records.length === 0) {
        out.result(
          "Release",
          { released: [], holders: [] },
          () => `${opts.container}: no record on ${node}: nothing to release`,
        );
        return;
      }
      const names = records.map((r) => `${r.key?.network}/${r.key?.containerId}/${r.key?.ifname}`);
      if (opts.force !== true) {
        throw new CliError(
          "REFUSED",
          heldBy(
            `${records.flatMap((r) => r.addresses.map((a) => a.address)).join(", ")}`,
            names.join(", "),
          ),
        );
      }
      const released: string[] = [];
      for (const r of records) {
        const res = await agent!.client.release({
          network: r.key?.network ?? "",
          containerId: r.key?.containerId ?? "",
          ifname: r.key?.ifname ?? "",
        });
        released.push(...res.addresses);
      }
      out.note(`forced: ${names.join(", ")} may still use ${released.join(", ")}`);
      out.result(
        "Release",
        { released, holders: names },
        () => `released ${released.join(", ")} (${names.join(", ")} on ${node})`,
      );
    });
}

async function releaseAt(context: CommandContext, where: AddressLocation, force: boolean) {
  const out = context.output();
  const h = where.holder;
  if (where.state !== "held" || h === undefined) {
    if (where.state === "unknown") {
      throw new CliError("NOT_FOUND", `${locationText(where)}`);
    }
    out.result(
      "Release",
      { released: [], holders: [] },
      () => `${locationText(where)}: nothing to release`,
    );
    return;
  }
  const name = `${h.network}/${h.containerId}/${h.ifname}`;
  const key = { network: h.network, containerId: h.containerId, ifname: h.ifname };
  if (where.agent !== undefined) {
    if (!force) throw new CliError("REFUSED", heldBy(where.address, `${name} on ${where.node}`));
    const r = await where.agent.client.release(key);
    out.note(`forced: ${name} on ${where.node} may still use ${r.addresses.join(", ")}`);
    out.result(
      "Release",
      { released: [...r.addresses], holders: [name] },
      () => `released ${r.addresses.join(", ")} (${name} on ${where.node})`,
    );
    return;
  }
  if (where.direct === true) {
    // A direct address whose node's agent was not given: it may hold a live record.
    if (!force) {
      throw new CliError(
        "REFUSED",
        `${where.address} is held in the cluster for ${name} on ${where.node}; give that node's agent (--node ${where.node}=ADDR) so that ipamctl can see whether a record still holds it, or --force`,
      );
    }
    const r = await context.cluster().releaseDirect({ keys: [key] });
    const released = r.results.flatMap((x) => x.addresses);
    out.result(
      "Release",
      { released, holders: [name] },
      () => `released ${released.join(", ")} (${name})`,
    );
  }
}
