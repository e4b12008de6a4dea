import type { Subnet as WireSubnet } from "@ipam/grpc-server";
import { Family } from "@ipam/grpc-server";
import { type Command, Option } from "commander";
import { CliError, usageError } from "../cli-error.js";
import { holderViews, listAllBlocks, readTopology, subnetCounts } from "../cluster-reads.js";
import type { CommandContext } from "../context.js";
import { type Colors, table } from "../output.js";
import { registerCarve } from "./subnet-carve.js";

/** A subnet as `subnet list` and `subnet add` print it. */
export interface SubnetView {
  readonly id: string;
  readonly cidr: string;
  readonly family: "ipv4" | "ipv6";
  readonly purpose: string;
  readonly scope: string;
  readonly mode: "block" | "direct";
  readonly blockPrefix: number;
  readonly gateway: string;
  readonly reserved: readonly string[];
}

function integer(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw usageError(flag, `"${value}" is not an integer from ${min} to ${max}`);
  }
  return n;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function wireView(s: WireSubnet): SubnetView {
  const host = s.family === Family.IPV6 ? 128 : 32;
  return {
    id: s.id,
    cidr: s.cidr,
    family: s.family === Family.IPV6 ? "ipv6" : "ipv4",
    purpose: s.purpose,
    scope: s.scope,
    mode: s.blockPrefix === host ? "direct" : "block",
    blockPrefix: s.blockPrefix,
    gateway: s.gateway,
    reserved: [...s.reserved],
  };
}

function holdersText(holders: ReturnType<typeof holderViews>, c: Colors): string {
  if (holders.length === 0) return "nothing held";
  return table(
    ["node", "blocks", "held", "cooling", "direct", "reported"],
    holders.map((h) => [
      h.node,
      String(h.blocks.length),
      h.addressesHeld === null ? c.yellow("?") : String(h.addressesHeld),
      h.addressesCooling === null ? "?" : String(h.addressesCooling),
      String(h.directAddresses),
      h.reportedAt ?? c.yellow("not reported"),
    ]),
    c,
    ["left", "right", "right", "right", "right", "left"],
  );
}

/** `subnet list|add|carve|drain|remove`: subnets at run time (the Cluster API's subnet calls). */
export function register(program: Command, context: CommandContext): void {
  const subnet = program
    .command("subnet")
    .description("list, add, carve, drain and remove subnets");

  subnet
    .command("list")
    .description("every subnet: range, purpose, scope, mode, capacity and what is leased")
    .option("--purpose <purpose>", "only subnets of this purpose")
    .addOption(new Option("--family <family>", "only this family").choices(["ipv4", "ipv6"]))
    .action(async (opts: { purpose?: string; family?: string }) => {
      const cluster = context.cluster();
      const topology = await readTopology(cluster);
      const [counts, blocks] = await Promise.all([subnetCounts(cluster), listAllBlocks(cluster)]);
      const revoked = new Map<string, number>();
      for (const b of blocks) {
        if (b.state === "revoked" || b.state === "draining") {
          revoked.set(b.subnetId, (revoked.get(b.subnetId) ?? 0) + 1);
        }
      }
      const subnets = [...topology.subnets.values()]
        .filter((s) => opts.purpose === undefined || s.purpose === opts.purpose)
        .filter((s) => opts.family === undefined || `ipv${s.family}` === opts.family)
        .sort((a, b) => a.id.localeCompare(b.id))
        .map((s) => {
          const n = counts.get(s.id);
          return {
            id: s.id,
            cidr: s.cidr,
            family: s.family === 6 ? ("ipv6" as const) : ("ipv4" as const),
            purpose: s.purpose,
            scope: `${s.scope.kind}/${s.scope.id}`,
            mode:
              s.blockPrefix === (s.family === 6 ? 128 : 32)
                ? ("direct" as const)
                : ("block" as const),
            blockPrefix: s.blockPrefix,
            gateway: s.gateway,
            reserved: [...s.reserved],
            capacity: String(n?.capacity ?? 0n),
            leased: String(n?.leased ?? 0n),
            held: String(n?.held ?? 0n),
            cooling: String(n?.cooling ?? 0n),
            heldUnreportedBlocks: n?.heldUnreportedBlocks ?? 0,
            blocksLeased: Number(n?.blocksLeased ?? 0n),
            blocksWindingDown: revoked.get(s.id) ?? 0,
            origin: n?.origin ?? "file",
            strategy: n?.strategy ?? "",
          };
        });
      context.output().result("SubnetList", { subnets }, (c) =>
        table(
          [
            "id",
            "cidr",
            "family",
            "purpose",
            "scope",
            "origin",
            "strategy",
            "mode",
            "capacity",
            "leased",
            "held",
            "cooling",
            "blocks",
          ],
          subnets.map((s) => [
            s.id,
            s.cidr,
            s.family,
            s.purpose,
            s.scope,
            s.origin,
            s.strategy,
            s.mode === "direct" ? "direct" : `block /${s.blockPrefix}`,
            s.capacity,
            s.leased,
            // Block mode: what the holders last reported; `+?` when some have not yet.
            `${s.held}${s.heldUnreportedBlocks === 0 ? "" : c.yellow("+?")}`,
            s.cooling === "0" ? "" : s.cooling,
            s.blocksWindingDown === 0
              ? String(s.blocksLeased)
              : `${s.blocksLeased} (${c.yellow(`${s.blocksWindingDown} draining/revoked`)})`,
          ]),
          c,
          [
            "left",
            "left",
            "left",
            "left",
            "left",
            "left",
            "left",
            "left",
            "right",
            "right",
            "right",
            "right",
            "right",
          ],
        ),
      );
    });

  subnet
    .command("add")
    .description("add a subnet at run time (kept across topology-file reloads until removed)")
    .argument("<id>", "the subnet's id")
    .argument("<cidr>", "the range, e.g. 10.20.0.0/16 or fd00:20::/56")
    .requiredOption("--purpose <purpose>", "what it is for: default, storage, management, ...")
    .requiredOption("--scope <id>", "the TOR, pod or zone whose nodes share it")
    .option("--block-prefix <n>", "prefix length of node blocks (32/128: direct mode)")
    .option("--gateway <address>", 'gateway; "none" for no gateway (default: first address)')
    .option("--reserved <range>", "a CIDR or first-last range never handed out (repeat)", collect)
    .option("--cooldown <seconds>", "seconds a released address waits before reuse")
    .option("--priority <n>", "lower is tried first when several subnets fit")
    .action(
      async (
        id: string,
        cidr: string,
        opts: {
          purpose: string;
          scope: string;
          blockPrefix?: string;
          gateway?: string;
          reserved?: string[];
          cooldown?: string;
          priority?: string;
        },
      ) => {
        const r = await context.cluster().addSubnet({
          subnet: {
            id,
            cidr,
            purpose: opts.purpose,
            scope: opts.scope,
            gateway: opts.gateway ?? "",
            reserved: opts.reserved ?? [],
            blockPrefix:
              opts.blockPrefix === undefined
                ? 0
                : integer("block-prefix", opts.blockPrefix, 1, 128),
            cooldownSeconds:
              opts.cooldown === undefined ? 0 : integer("cooldown", opts.cooldown, 0, 2 ** 31 - 1),
            priority:
              opts.priority === undefined
                ? 0
                : integer("priority", opts.priority, -(2 ** 31), 2 ** 31 - 1),
          },
        });
        if (r.subnet === undefined)
          throw new CliError("BAD_ANSWER", "the server returned no subnet");
        const data = { subnet: wireView(r.subnet) };
        context
          .output()
          .result(
            "SubnetAdded",
            data,
            () =>
              `added ${data.subnet.id} ${data.subnet.cidr} (${data.subnet.purpose}, ${data.subnet.mode === "direct" ? "direct" : `blocks /${data.subnet.blockPrefix}`}, scope ${data.subnet.scope})`,
          );
      },
    );

  registerCarve(subnet, context);

  subnet
    .command("drain")
    .description(
      "stop handing out new blocks and addresses from a subnet; --wait until it is empty",
    )
    .argument("<id>", "the subnet's id")
    .option("--resume", "end the drain: hand out from it again")
    .option("--wait", "follow the drain (progress on stderr) until nothing is held")
    .option("--interval <seconds>", "with --wait: seconds between progress lines", "2")
    .action(async (id: string, opts: { resume?: boolean; wait?: boolean; interval: string }) => {
      const draining = opts.resume !== true;
      if (!draining && opts.wait === true)
        throw usageError("wait", "only with a drain, not --resume");
      const intervalMs = integer("interval", opts.interval, 1, 3600) * 1000;
      const cluster = context.cluster();
      const out = context.output();
      let r = await cluster.drainSubnet({ subnetId: id, drain: draining });
      while (opts.wait === true && !r.done) {
        const held = holderViews(r.holders)
          .map((h) => `${h.node} ${h.addressesHeld ?? "?"}`)
          .join(", ");
        out.note(
          `${id}: ${r.addressesAllocated} addresses still held in ${r.blocksLeased} blocks (${held})`,
        );
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
        r = await cluster.drainSubnet({ subnetId: id, drain: true });
      }
      const data = {
        subnet: id,
        draining,
        done: r.done,
        blocksLeased: Number(r.blocksLeased),
        addressesHeld: r.addressesAllocated,
        holders: holderViews(r.holders),
      };
      out.result("SubnetDrain", data, (c) =>
        !draining
          ? `${id}: drain ended, handing out again`
          : data.done
            ? `${id}: ${c.green("drained")}: nothing held; \`ipamctl subnet remove ${id}\` removes it`
            : `${id}: draining, ${data.addressesHeld} addresses still held in ${data.blocksLeased} blocks\n\n${holdersText(data.holders, c)}`,
      );
    });

  subnet
    .command("remove")
    .description("remove a subnet; refused while anything is held unless --force")
    .argument("<id>", "the subnet's id")
    .option(
      "--force",
      "remove a subnet in use safely: revoke its blocks; it goes once their holders returned them",
    )
    .action(async (id: string, opts: { force?: boolean }) => {
      let r: Awaited<ReturnType<ReturnType<CommandContext["cluster"]>["removeSubnet"]>>;
      try {
        r = await context.cluster().removeSubnet({ subnetId: id, force: opts.force === true });
      } catch (err) {
        if ((err as { code?: unknown }).code !== "CONFLICT") throw err;
        throw new CliError(
          "REFUSED",
          `${(err as Error).message}. Drain it first (\`ipamctl subnet drain ${id} --wait\`), then remove it; or --force to revoke its blocks (pods keep their addresses; the subnet goes once every holder has returned its blocks)`,
          { cause: err },
        );
      }
      const data = {
        subnet: id,
        existed: r.removed,
        removing: r.removing,
        holders: holderViews(r.holders),
        returnedToSupernet: r.returnedToSupernet === "" ? null : r.returnedToSupernet,
      };
      context
        .output()
        .result("SubnetRemove", data, (c) =>
          !data.existed
            ? `${id}: no such subnet (nothing to do)`
            : data.removing
              ? `${id}: ${c.yellow("removing")}: its blocks are revoked; it goes once these are returned\n\n${holdersText(data.holders, c)}`
              : data.returnedToSupernet !== null
                ? `${id}: removed; returned to supernet ${data.returnedToSupernet} (free to carve again)`
                : `${id}: removed`,
        );
    });
}
