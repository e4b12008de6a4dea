import { type Command, Option } from "commander";
import { readAgents } from "../agent-reads.js";
import { listAllBlocks, purposeStrategies, readTopology, subnetCounts } from "../cluster-reads.js";
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

/** True when any count of the tree is cooling down: only then is the cooling column shown. */
function anyCooling(tree: Tree): boolean {
  const nonZero = (f: FamilyCounts | undefined) => f?.cooling != null && f.cooling !== "0";
  const counts = (c: Counts) => FAMILIES.some((f) => nonZero(c[f]));
  const subnets = (list: readonly SubnetNode[]) =>
    list.some((s) => nonZero(s.counts) || (s.blocks ?? []).some((b) => (b.cooling ?? "0") !== "0"));
  return (
    counts(tree.total) ||
    tree.zones.some(
      (z) =>
        subnets(z.subnets) ||
        z.pods.some((p) => subnets(p.subnets) || p.tors.some((t) => subnets(t.subnets))),
    )
  );
}

/** The table printer of one tree: the cooling column only when something cools down. */
function printer(c: Colors, cooling: boolean) {
  const withCooling = (cells: string[], value: string): string[] =>
    cooling ? [...cells.slice(0, 5), value, ...cells.slice(5)] : cells;
  const row = (name: string, family: string, f: FamilyCounts): string[] => {
    const used = BigInt(f.held ?? f.leased);
    return withCooling(
      [
        name,
        family,
        f.capacity,
        f.leased,
        f.held ?? c.yellow("?"),
        bar(used, BigInt(f.capacity), c),
      ],
      f.cooling === null ? c.yellow("?") : f.cooling === "0" ? "" : f.cooling,
    );
  };
  const levelRows = (name: string, counts: Counts): string[][] => {
    const rows: string[][] = [];
    for (const family of FAMILIES) {
      const f = counts[family];
      if (f !== undefined) rows.push(row(rows.length === 0 ? name : "", family, f));
    }
    return rows.length === 0 ? [withCooling([name, "", "", "", "", ""], "")] : rows;
  };
  const subnetRows = (indent: string, s: SubnetNode): string[][] => {
    const mode = s.mode === "direct" ? "direct" : `blocks /${s.blockPrefix}`;
    const strategy = s.strategyOverride ? ` strategy ${c.yellow(s.strategy)}` : "";
    const origin = s.origin === "carved" ? c.dim(" carved") : "";
    const rows = [
      row(
        `${indent}${c.cyan(s.id)} ${s.cidr} ${s.purpose} ${mode}${strategy}${origin}`,
        s.family,
        s.counts,
      ),
    ];
    for (const b of s.blocks ?? []) {
      const shown = b.agentState !== null && b.agentState !== b.state ? b.agentState : b.state;
      const state = shown === "leased" ? "" : ` ${c.yellow(shown)}`;
      rows.push(
        withCooling(
          [
            `${indent}  ${b.cidr} → ${b.node}${state}`,
            "",
            b.capacity ?? "?",
            "",
            b.held ?? c.yellow("?"),
            b.capacity === null || b.held === null
              ? ""
              : bar(BigInt(b.held), BigInt(b.capacity), c, 10),
          ],
          b.cooling === null || b.cooling === "0" ? "" : b.cooling,
        ),
      );
    }
    return rows;
  };
  return { levelRows, subnetRows, withCooling };
}

/**
 * The tree as a table: one row per level and family, subnets beneath the level they belong to
 * (with their strategy when they override their purpose's, and `carved` when cut from a
 * supernet), then each purpose's strategy.
 */
export function treeText(tree: Tree, c: Colors): string {
  const cooling = anyCooling(tree);
  const p = printer(c, cooling);
  const rows: string[][] = [];
  for (const z of tree.zones) {
    rows.push(...p.levelRows(c.bold(`zone ${z.id}`), z.counts));
    for (const s of z.subnets) rows.push(...p.subnetRows("  ", s));
    for (const pod of z.pods) {
      rows.push(...p.levelRows(`  pod ${pod.id}`, pod.counts));
      for (const s of pod.subnets) rows.push(...p.subnetRows("    ", s));
      for (const t of pod.tors) {
        rows.push(...p.levelRows(`    tor ${t.id}`, t.counts));
        for (const s of t.subnets) rows.push(...p.subnetRows("      ", s));
        for (const n of t.nodes) {
          const held =
            n.held === null
              ? c.yellow("? (agent not read)")
              : FAMILIES.filter((f) => n.held?.[f] !== undefined)
                  .map((f) => `${f} ${n.held?.[f]}`)
                  .join(", ") || "0";
          rows.push(
            p.withCooling(
              [`      ${c.dim("node")} ${n.id}`, "", "", `${n.blocks} blocks`, held, ""],
              "",
            ),
          );
        }
      }
    }
  }
  rows.push(...p.levelRows(c.bold("total"), tree.total));
  const head = p.withCooling(
    ["name", "family", "capacity", "leased", "held", "use (held, else leased)"],
    "cooling",
  );
  const align = p.withCooling(["left", "left", "right", "right", "right", "left"], "right") as (
    | "left"
    | "right"
  )[];
  const text = table(head, rows, c, align);
  const strategies =
    tree.purposes.length === 0
      ? ""
      : `\n\nstrategy: ${tree.purposes.map((x) => `${x.purpose} ${x.strategy}`).join(", ")}`;
  return tree.unreadNodes.length === 0
    ? `${text}${strategies}`
    : `${text}${strategies}\n\n${c.yellow(`held unknown (?) for blocks of ${tree.unreadNodes.join(", ")}: give their agents with --node ADDR`)}`;
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
        const [counts, strategies, blocks, agents] = await Promise.all([
          subnetCounts(cluster),
          purposeStrategies(cluster),
          listAllBlocks(cluster),
          readAgents(context.agents()),
        ]);
        const tree = buildTree(topology, counts, strategies, blocks, agents, opts);
        context.output().result("Tree", tree, (c) => treeText(tree, c));
      },
    );
}
