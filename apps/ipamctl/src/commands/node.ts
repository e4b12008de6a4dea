import type { Command } from "commander";
import { CliError, usageError } from "../cli-error.js";
import { listAllBlocks, readTopology } from "../cluster-reads.js";
import type { CommandContext } from "../context.js";
import { table } from "../output.js";

/** Blocks of a node by lease state (`leased`, `draining`, `revoked`). */
function byState(states: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of states) out[s === "" ? "leased" : s] = (out[s === "" ? "leased" : s] ?? 0) + 1;
  return out;
}

/**
 * `node list|drain|remove`: the nodes of the topology and their leases; retiring a node with
 * the safe revocation of issue 15 (DeregisterNode `force` / `dead`).
 */
export function register(program: Command, context: CommandContext): void {
  const node = program.command("node").description("list, drain and remove nodes");

  node
    .command("list")
    .description("every node: its TOR, pod, zone and the blocks it holds by state")
    .option("--tor <id>", "only nodes of this TOR")
    .action(async (opts: { tor?: string }) => {
      const cluster = context.cluster();
      const [topology, blocks] = await Promise.all([readTopology(cluster), listAllBlocks(cluster)]);
      const states = new Map<string, string[]>();
      for (const b of blocks) {
        const list = states.get(b.nodeId) ?? [];
        list.push(b.state);
        states.set(b.nodeId, list);
      }
      const nodes = [...topology.nodes.values()]
        .filter((n) => opts.tor === undefined || n.tor === opts.tor)
        .sort((a, b) => a.id.localeCompare(b.id))
        .map((n) => {
          const pod = topology.tors.get(n.tor)?.pod ?? "";
          return {
            id: n.id,
            tor: n.tor,
            pod,
            zone: topology.pods.get(pod)?.zone ?? "",
            labels: { ...n.labels },
            blocks: byState(states.get(n.id) ?? []),
          };
        });
      // Blocks leased to nodes the topology no longer lists (a node being deregistered).
      const known = new Set(nodes.map((n) => n.id));
      const gone = [...states.keys()]
        .filter((id) => !known.has(id) && !topology.nodes.has(id))
        .sort();
      context.output().result("NodeList", { nodes, unlistedHolders: gone }, (c) => {
        const text = table(
          ["node", "tor", "pod", "zone", "blocks"],
          nodes.map((n) => [
            n.id,
            n.tor,
            n.pod,
            n.zone,
            Object.entries(n.blocks)
              .map(([state, count]) =>
                state === "leased" ? `${count}` : c.yellow(`${count} ${state}`),
              )
              .join(", ") || "0",
          ]),
          c,
        );
        return gone.length === 0
          ? text
          : `${text}\n\n${c.yellow(`holding blocks but not in the topology: ${gone.join(", ")}`)}`;
      });
    });

  node
    .command("drain")
    .description(
      "retire a node safely: revoke its blocks (no new address there; its pods keep theirs); each block returns once empty, then the node is removed",
    )
    .argument("<node>", "the node's id")
    .option("--wait", "follow it (progress on stderr) until the node holds nothing")
    .option("--interval <seconds>", "with --wait: seconds between progress lines", "2")
    .action(async (id: string, opts: { wait?: boolean; interval: string }) => {
      const interval = Number(opts.interval);
      if (!Number.isInteger(interval) || interval < 1) {
        throw usageError("interval", `"${opts.interval}" is not a whole number of seconds >= 1`);
      }
      const cluster = context.cluster();
      const out = context.output();
      const r = await cluster.deregisterNode({ nodeId: id, force: true, dead: false });
      let left = r.deregistering ? await listAllBlocks(cluster, { nodeId: id }) : [];
      while (opts.wait === true && r.deregistering) {
        const still = await cluster.deregisterNode({ nodeId: id, force: true, dead: false });
        left = still.deregistering ? await listAllBlocks(cluster, { nodeId: id }) : [];
        if (!still.deregistering) break;
        out.note(
          `${id}: ${left.length} blocks not yet returned, ${still.keptAddresses} direct addresses still held`,
        );
        await new Promise((resolve) => setTimeout(resolve, interval * 1000));
      }
      const data = {
        node: id,
        removed: left.length === 0 && (opts.wait === true || !r.deregistering),
        revokedBlocks: left.map((b) => b.cidr),
        keptAddresses: r.keptAddresses,
      };
      out.result("NodeDrain", data, (c) =>
        data.removed
          ? `${id}: ${c.green("removed")}: it holds nothing any more`
          : `${id}: ${c.yellow("draining")}: ${data.revokedBlocks.length} blocks revoked (${data.revokedBlocks.join(", ")}), ${data.keptAddresses} direct addresses kept; each returns once its pods release it`,
      );
    });

  node
    .command("remove")
    .description("remove a node that holds nothing; --dead frees what a node that is gone held")
    .argument("<node>", "the node's id")
    .option(
      "--dead",
      "the node is gone for good: free its blocks and addresses NOW (they can be handed out again at once: only if no pod of it still runs)",
    )
    .action(async (id: string, opts: { dead?: boolean }) => {
      let r: Awaited<ReturnType<ReturnType<CommandContext["cluster"]>["deregisterNode"]>>;
      try {
        r = await context
          .cluster()
          .deregisterNode({ nodeId: id, force: false, dead: opts.dead === true });
      } catch (err) {
        if ((err as { code?: unknown }).code !== "CONFLICT") throw err;
        throw new CliError(
          "REFUSED",
          `${(err as Error).message}. \`ipamctl node drain ${id} --wait\` retires it safely; --dead only if the node is gone for good (its addresses are handed out again at once)`,
          { cause: err },
        );
      }
      const data = {
        node: id,
        releasedBlocks: r.releasedBlocks,
        releasedAddresses: r.releasedAddresses,
      };
      context
        .output()
        .result(
          "NodeRemove",
          data,
          () =>
            `${id}: removed${opts.dead === true ? ` (dead: ${data.releasedBlocks} blocks and ${data.releasedAddresses} direct addresses freed)` : ""}`,
        );
    });
}
