import { randomUUID } from "node:crypto";
import { Family } from "@ipam/grpc-server";
import { type Command, Option } from "commander";
import { CliError, usageError } from "../cli-error.js";
import type { CommandContext } from "../context.js";

/** What `subnet carve --json` prints (docs/ipamctl/schemas/SubnetCarve.schema.json). */
export interface SubnetCarveView {
  readonly subnet: string;
  readonly cidr: string;
  readonly tor: string;
  readonly purpose: string;
  readonly family: "ipv4" | "ipv6";
  readonly mode: "block" | "direct";
  readonly blockPrefix: number;
  /** False when the request id named an earlier carve (nothing changed). */
  readonly carved: boolean;
  /** The supernet and the scope that declares it (`pod:p1`); null when `carved` is false. */
  readonly supernet: string | null;
  readonly supernetScope: string | null;
  readonly placement: "adjacent" | "first-free" | null;
  /** The TOR's open subnets of the purpose, family and mode, after. */
  readonly torSubnets: number;
  readonly requestId: string;
}

/**
 * `subnet carve`: carves the next subnet for a TOR out of its pod's or zone's supernet (the
 * Cluster API's CarveSubnet). Every run sends a request id (`--request-id`, else a fresh one), so
 * the client's retries after a lost answer carve once; re-running with the same `--request-id`
 * answers the subnet it carved.
 */
export function registerCarve(subnet: Command, context: CommandContext): void {
  subnet
    .command("carve")
    .description("carve the next subnet for a TOR from its pod's or zone's supernet")
    .requiredOption("--tor <id>", "the TOR that gets the subnet")
    .option("--purpose <purpose>", "the purpose of the subnet", "default")
    .addOption(
      new Option("--family <family>", "the family").choices(["ipv4", "ipv6"]).default("ipv4"),
    )
    .option("--prefix-length <n>", "prefix length of the subnet (default: the supernet's)")
    .addOption(
      new Option("--mode <mode>", "grow the TOR's block-mode or direct-mode subnets").choices([
        "block",
        "direct",
      ]),
    )
    .option("--request-id <id>", "idempotency key: a re-run with it answers the same subnet")
    .action(
      async (opts: {
        tor: string;
        purpose: string;
        family: "ipv4" | "ipv6";
        prefixLength?: string;
        mode?: "block" | "direct";
        requestId?: string;
      }) => {
        const host = opts.family === "ipv6" ? 128 : 32;
        const prefixLength = opts.prefixLength === undefined ? 0 : Number(opts.prefixLength);
        if (
          opts.prefixLength !== undefined &&
          (!Number.isInteger(prefixLength) || prefixLength < 1 || prefixLength > host)
        )
          throw usageError(
            "prefix-length",
            `"${opts.prefixLength}" is not an integer from 1 to ${host}`,
          );
        const requestId = opts.requestId ?? randomUUID();
        if (requestId === "" || requestId.length > 128)
          throw usageError("request-id", "must be 1 to 128 characters");
        let r: Awaited<ReturnType<ReturnType<CommandContext["cluster"]>["carveSubnet"]>>;
        try {
          r = await context.cluster().carveSubnet({
            torId: opts.tor,
            purpose: opts.purpose,
            family: opts.family === "ipv6" ? Family.IPV6 : Family.IPV4,
            prefixLength,
            mode: opts.mode ?? "",
            requestId,
          });
        } catch (err) {
          if ((err as { code?: unknown }).code !== "POOL_EXHAUSTED") throw err;
          // Every supernet is full: only the topology file can give the TOR more room.
          throw new CliError(
            "REFUSED",
            `${(err as Error).message}. Grow the supernet or declare another one on the TOR's pod or zone in the topology file (docs/topology.md, "Supernets"), or drain and remove a carved subnet the TOR no longer needs`,
            { cause: err },
          );
        }
        const s = r.subnet;
        if (s === undefined) throw new CliError("BAD_ANSWER", "the server returned no subnet");
        const data: SubnetCarveView = {
          subnet: s.id,
          cidr: s.cidr,
          tor: opts.tor,
          purpose: s.purpose,
          family: s.family === Family.IPV6 ? "ipv6" : "ipv4",
          mode: s.blockPrefix === host ? "direct" : "block",
          blockPrefix: s.blockPrefix,
          carved: r.carved,
          supernet: r.carved ? r.supernet : null,
          supernetScope: r.carved ? r.supernetScope : null,
          placement: r.carved ? (r.placement as "adjacent" | "first-free") : null,
          torSubnets: r.torSubnets,
          requestId,
        };
        context
          .output()
          .result("SubnetCarve", data, (c) =>
            data.carved
              ? `carved ${c.green(data.cidr)} for TOR ${data.tor} (${data.purpose}, ${data.mode === "direct" ? "direct" : `blocks /${data.blockPrefix}`}) from supernet ${data.supernet} (${data.supernetScope}), ${data.placement === "adjacent" ? "adjacent to the TOR's subnets" : "first free slot (not adjacent: one more route)"}; the TOR now has ${data.torSubnets}`
              : `${data.cidr}: already carved for TOR ${data.tor} by request ${requestId} (nothing changed)`,
          );
      },
    );
}
