import { type AddressEvent, Family } from "@ipam/grpc-server";
import type { Command } from "commander";
import { usageError } from "../cli-error.js";
import type { CommandContext } from "../context.js";
import { type Colors, table } from "../output.js";
import { isoTime, parseTimeFlag } from "../time-flags.js";

/** One event as `ipamctl history` prints it (docs/ipamctl/schemas/address-history.json). */
export interface EventView {
  readonly time: string;
  readonly timeUnixMs: number;
  readonly event: "allocate" | "release";
  readonly node: string;
  readonly address: string;
  readonly family: "ipv4" | "ipv6";
  readonly network: string;
  readonly containerId: string;
  readonly ifname: string;
  readonly purpose: string;
  readonly subnet: string;
  /** The pod, when the runtime named it (CNI_ARGS K8S_POD_*). */
  readonly pod: { readonly namespace: string; readonly name: string; readonly uid: string } | null;
}

function eventView(e: AddressEvent): EventView {
  const at = Number(e.atUnixMs);
  const named = e.podNamespace !== "" || e.podName !== "" || e.podUid !== "";
  return {
    time: isoTime(at),
    timeUnixMs: at,
    event: e.event === "release" ? "release" : "allocate",
    node: e.nodeId,
    address: e.address,
    family: e.family === Family.IPV6 ? "ipv6" : "ipv4",
    network: e.network,
    containerId: e.containerId,
    ifname: e.ifname,
    purpose: e.purpose,
    subnet: e.subnetId,
    pod: named ? { namespace: e.podNamespace, name: e.podName, uid: e.podUid } : null,
  };
}

const podText = (e: EventView) =>
  e.pod === null ? "-" : `${e.pod.namespace === "" ? "" : `${e.pod.namespace}/`}${e.pod.name}`;

function eventsTable(events: readonly EventView[], c: Colors): string {
  return table(
    ["time", "event", "node", "pod", "pod uid", "container", "ifname", "network", "subnet"],
    events.map((e) => [
      e.time,
      e.event === "allocate" ? c.green(e.event) : c.yellow(e.event),
      e.node,
      podText(e),
      e.pod?.uid === "" || e.pod === null ? "-" : e.pod.uid,
      e.containerId.length > 16 ? `${e.containerId.slice(0, 16)}…` : e.containerId,
      e.ifname,
      e.network,
      e.subnet === "" ? "-" : e.subnet,
    ]),
    c,
  );
}

interface HistoryFlags {
  readonly ip?: string;
  readonly since?: string;
  readonly until?: string;
  readonly at?: string;
}

/**
 * `ipamctl history --ip ADDR [--since T] [--until T] [--at T]`: who held the address and when,
 * from any server's copy of every node's address events (also for nodes that are down or gone).
 */
export function register(program: Command, context: CommandContext): void {
  program
    .command("history")
    .description("audit: who held an address and when (allocations and releases, with the pod)")
    .requiredOption("--ip <address>", "the address")
    .option("--since <time>", "only events at or after this time (2026-12-06T14:02:00Z, 2d, ...)")
    .option("--until <time>", "only events at or before this time")
    .option("--at <time>", "also say who held the address at this time")
    .action(async (flags: HistoryFlags) => {
      const now = Date.now();
      const address = flags.ip ?? "";
      const since =
        flags.since === undefined ? undefined : parseTimeFlag("since", flags.since, now);
      const until =
        flags.until === undefined ? undefined : parseTimeFlag("until", flags.until, now);
      const at = flags.at === undefined ? undefined : parseTimeFlag("at", flags.at, now);
      if (since !== undefined && until !== undefined && until < since) {
        throw usageError("until", `${isoTime(until)} is before --since ${isoTime(since)}`);
      }
      const answer = await context.cluster().addressHistory({
        address,
        sinceUnixMs: BigInt(since ?? 0),
        untilUnixMs: BigInt(until ?? 0),
        atUnixMs: BigInt(at ?? 0),
      });
      const oldest = Number(answer.oldestKeptUnixMs);
      const events = answer.events.map(eventView);
      const holders = answer.holders.map(eventView);
      const data = {
        address,
        server: answer.serverId,
        oldestKept: oldest === 0 ? null : isoTime(oldest),
        ...(since === undefined ? {} : { since: isoTime(since) }),
        ...(until === undefined ? {} : { until: isoTime(until) }),
        events,
        ...(at === undefined ? {} : { at: { time: isoTime(at), holders } }),
      };
      context.output().result("AddressHistory", data, (c) => {
        const lines: string[] = [];
        const kept =
          data.oldestKept === null ? "nothing kept yet" : `kept since ${data.oldestKept}`;
        lines.push(
          `${address}: ${events.length} event${events.length === 1 ? "" : "s"} (server ${data.server}, ${kept})`,
        );
        if (at !== undefined) {
          if (holders.length === 0) {
            const before =
              oldest === 0 || at < oldest ? " (before the oldest event kept: unknown)" : "";
            lines.push(`at ${isoTime(at)}: ${c.dim("free")}${before}`);
          }
          for (const h of holders) {
            lines.push(
              `at ${isoTime(at)}: held by ${c.bold(podText(h))} on ${h.node} (container ${h.containerId} ${h.ifname}, network ${h.network}, since ${h.time})`,
            );
          }
        }
        if (events.length > 0) lines.push("", eventsTable(events, c));
        return lines.join("\n");
      });
    });
}
