import { type Command, Option } from "commander";
import { readAgents } from "../agent-reads.js";
import { listAllBlocks, readTopology, subnetCounts } from "../cluster-reads.js";
import type { CommandContext } from "../context.js";
import { bar, type Colors, table } from "../output.js";
import {
  buildTree,
  type Counts,
  type FamilyCounts,
  type FamilyName,
  type SubnetNode,
  type Tree,
} from "../tree.js";
import { showIp } from "./show-ip.js";

const FAMILIES: readonly FamilyName[] = ["ipv4", "ipv6"];

function row(name: string, family: string, f: FamilyCounts, c: Colors): string[] {
  const used = BigInt(f.held ?? f.leased);
  return [
    name,
    family,
    f.capacity,
    f.leased,
    f.held ?? c.yellow("?"),
    bar(used, BigInt(f.capacity), c),
  ];
}

function levelRows(name: string, counts: Counts, c: Colors): string[][] {
  const rows: string[][] = [];
  for (const family of FAMILIES) {
    const f = counts[family];
    if (f !== undefined) rows.push(row(rows.length === 0 ? name : "", family, f, c));
  }
  return rows.length === 0 ? [[name, "", "", "", "", ""]] : rows;
}

function subnetRows(indent: string, s: SubnetNode, c: Colors): string[][] {
  const mode = s.mode === "direct" ? "direct" : `blocks /${s.blockPrefix}`;
  const rows = [
    row(`${indent}${c.cyan(s.id)} ${s.cidr} ${s.purpose} ${mode}`, s.family, s.counts, c),
  ];
  for (const b of s.blocks ?? []) {
    const state = b.state === "leased" ? "" : ` ${c.yellow(b.state)}`;
    rows.push([
      `${indent}  ${b.cidr} → ${b.node}${state}`,
      "",
      b.capacity ?? "?",
      "",
      b.held ?? c.yellow("?"),
      b.capacity === null || b.held === null ? "" : bar(BigInt(b.held), BigInt(b.capacity), c, 10),
    ]);
  }
  return rows;
}

/** The tree as a table: one row per level and family, subnets beneath the level they belong to. */
export function treeText(tree: Tree, c: Colors): string {
  const rows: string[][] = [];
  for (const z of tree.zones) {
    rows.push(...levelRows(c.bold(`zone ${z.id}`), z.counts, c));
    for (const s of z.subnets) rows.push(...subnetRows("  ", s, c));
    for (const p of z.pods) {
      rows.push(...levelRows(`  pod ${p.id}`, p.counts, c));
      for (const s of p.subnets) rows.push(...subnetRows("    ", s, c));
      for (const t of p.tors) {
        rows.push(...levelRows(`    tor ${t.id}`, t.counts, c));
        for (const s of t.subnets) rows.push(...subnetRows("      ", s, c));
        for (const n of t.nodes) {
          const held =
            n.held === null
              ? c.yellow("? (agent not read)")
              : FAMILIES.filter((f) => n.held?.[f] !== undefined)
                  .map((f) => `${f} ${n.held?.[f]}`)
                  .join(", ") || "0";
          rows.push([`      ${c.dim("node")} ${n.id}`, "", "", `${n.blocks} blocks`, held, ""]);
        }
      }
    }
  }
  rows.push(...levelRows(c.bold("total"), tree.total, c));
  const text = table(
    ["name", "family", "capacity", "leased", "held", "use (held, else leased)"],
    rows,
    c,
    ["left", "left", "right", "right", "right", "left"],
  );
  return tree.unreadNodes.length === 0
    ? text
    : `${text}\n\n${c.yellow(`held unknown (?) for blocks of ${tree.unreadNodes.join(", ")}: give their agents with --node ADDR`)}`;
}

/** `show`: the usage tree; `show --ip ADDR`: where an address is and who holds it. */
export function register(program: Command, context: CommandContext): void {
  program
    .command("show")
    .description(
      "the tree zone → pod → TOR → subnet (→ blocks) and nodes, with capacity, leased and held per family; --ip: one address",
    )
    .option("--blocks", "list each subnet's blocks, their holder and use")
    .option("--zone <id>", "only this zone")
    .option("--tor <id>", "only this TOR (and the subnets scoped to it)")
    .option("--purpose <purpose>", "only subnets of this purpose")
    .addOption(new Option("--family <family>", "only this family").choices(["ipv4", "ipv6"]))
    .option(
      "--ip <address>",
      "where this address is: subnet, block, node, holder, or free/reserved/cooling",
    )
    .action(
      async (opts: {
        blocks?: boolean;
        zone?: string;
        tor?: string;
        purpose?: string;
        family?: FamilyName;
        ip?: string;
      }) => {
        if (opts.ip !== undefined) {
          await showIp(context, opts.ip);
          return;
        }
        const cluster = context.cluster();
        const topology = await readTopology(cluster);
        const [counts, blocks, agents] = await Promise.all([
          subnetCounts(cluster, topology),
          listAllBlocks(cluster),
          readAgents(context.agents()),
        ]);
        const tree = buildTree(topology, counts, blocks, agents, opts);
        context.output().result("Tree", tree, (c) => treeText(tree, c));
      },
    );
}
