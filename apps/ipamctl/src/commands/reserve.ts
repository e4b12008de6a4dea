import { Cidr, tryParseIp } from "@ipam/bitmap";
import type { Reservation } from "@ipam/grpc-server";
import type { Command } from "commander";
import { CliError, usageError } from "../cli-error.js";
import { readTopology } from "../cluster-reads.js";
import type { CommandContext } from "../context.js";
import { table } from "../output.js";

/** The first address of RANGE (an address, a CIDR or `first-last`); usage error naming RANGE. */
function firstAddress(range: string) {
  const text = range.trim();
  const first = text.includes("/")
    ? Cidr.tryParse(text)?.first
    : tryParseIp(text.split("-")[0] ?? "");
  if (first === undefined) {
    throw new CliError(
      "USAGE",
      `RANGE: "${range}" is not an address, a CIDR or first-last (e.g. 10.99.0.10-10.99.0.20)`,
    );
  }
  return first;
}

/** The subnet of `--subnet`, else the one that contains RANGE's first address. */
async function subnetOf(context: CommandContext, range: string, flag: string | undefined) {
  if (flag !== undefined) return flag;
  const ip = firstAddress(range);
  const topology = await readTopology(context.cluster());
  const s = [...topology.subnets.values()].find((x) => Cidr.parse(x.cidr).contains(ip));
  if (s === undefined) throw usageError("subnet", `${range} is in no subnet: give --subnet ID`);
  return s.id;
}

function view(r: Reservation | undefined) {
  if (r === undefined) throw new CliError("BAD_ANSWER", "the server returned no reservation");
  return {
    subnet: r.subnetId,
    range: r.range,
    reason: r.reason,
    reservedAt: new Date(Number(r.reservedAtUnixMs)).toISOString(),
  };
}

/**
 * `reserve|unreserve RANGE`: exclude a range from allocation at run time, or end that. In
 * block mode a reservation applies to blocks leased from then on; in direct mode it is refused
 * (exit 5) while an allocated address falls inside. `reserve list`: the reservations in force.
 */
export function register(program: Command, context: CommandContext): void {
  const reserve = program
    .command("reserve")
    .description("exclude RANGE (address, CIDR or first-last) of a subnet from allocation")
    .argument("<range>", "an address, a CIDR or first-last")
    .option("--subnet <id>", "the subnet (default: the one that contains RANGE)")
    .option("--reason <text>", "why, shown to operators", "")
    .action(async (range: string, opts: { subnet?: string; reason: string }) => {
      const subnetId = await subnetOf(context, range, opts.subnet);
      const r = await context.cluster().reserveRange({ subnetId, range, reason: opts.reason });
      const data = { reservation: view(r.reservation) };
      context
        .output()
        .result(
          "Reservation",
          data,
          () =>
            `reserved ${data.reservation.range} in ${data.reservation.subnet}${data.reservation.reason === "" ? "" : ` (${data.reservation.reason})`}`,
        );
    });

  reserve
    .command("list")
    .description(
      "the run-time reservations of every subnet (or --subnet's), from the cluster state",
    )
    .option("--subnet <id>", "only this subnet's")
    .action(async (opts: { subnet?: string }) => {
      const r = await context.cluster().listReservations({
        subnetId: opts.subnet ?? "",
        allowStale: false,
      });
      const reservations = r.reservations.map((x) => view(x));
      context.output().result("ReservationList", { reservations }, (c) =>
        reservations.length === 0
          ? `no run-time reservations${opts.subnet === undefined ? "" : ` in ${opts.subnet}`}`
          : table(
              ["subnet", "range", "reserved at", "reason"],
              reservations.map((x) => [x.subnet, x.range, x.reservedAt, x.reason]),
              c,
            ),
      );
    });

  program
    .command("unreserve")
    .description("end the run-time reservation of RANGE")
    .argument("<range>", "the range as reserved")
    .option("--subnet <id>", "the subnet (default: the one that contains RANGE)")
    .action(async (range: string, opts: { subnet?: string }) => {
      const subnetId = await subnetOf(context, range, opts.subnet);
      const r = await context.cluster().unreserveRange({ subnetId, range });
      const data = { reservation: view(r.reservation) };
      context
        .output()
        .result(
          "Unreservation",
          data,
          () => `${data.reservation.range} in ${data.reservation.subnet} is no longer reserved`,
        );
    });
}
