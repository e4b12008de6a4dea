import { Family, type ForecastEntry } from "@ipam/grpc-server";
import type { Command } from "commander";
import { usageError } from "../cli-error.js";
import type { CommandContext } from "../context.js";
import type { Colors } from "../output.js";
import { isoTime, parseDurationFlag, roughDuration, windowText } from "../time-flags.js";

/** One forecast row as `ipamctl forecast` prints it (docs/ipamctl/schemas/forecast.json). */
export interface ForecastView {
  readonly zone: string;
  readonly pod: string;
  readonly tor: string;
  readonly purpose: string;
  readonly family: "ipv4" | "ipv6";
  readonly capacity: string;
  readonly leased: string;
  readonly held: string;
  /** held / capacity, 0..1 (0 for an empty capacity). */
  readonly heldRatio: number;
  /** Net allocations per hour over the window. */
  readonly ratePerHour: number;
  /** Seconds until full at that rate; null: not growing. */
  readonly fullInSeconds: number | null;
  /** When that is, RFC 3339; null: not growing. */
  readonly fullAt: string | null;
  /** Confidence: events in the window, and the R² of the held count over it. */
  readonly samples: number;
  readonly rSquared: number;
  /** The window the rate covers, ms (shorter than asked when the history is younger). */
  readonly windowMs: number;
}

function view(e: ForecastEntry, computedAt: number): ForecastView {
  const capacity = BigInt(e.capacity === "" ? "0" : e.capacity);
  const held = BigInt(e.held === "" ? "0" : e.held);
  const full = e.fullInSeconds;
  return {
    zone: e.zone,
    pod: e.pod,
    tor: e.tor,
    purpose: e.purpose,
    family: e.family === Family.IPV6 ? "ipv6" : "ipv4",
    capacity: e.capacity,
    leased: e.leased,
    held: e.held,
    heldRatio: capacity === 0n ? 0 : Number((held * 1_000_000n) / capacity) / 1_000_000,
    ratePerHour: e.ratePerHour,
    fullInSeconds: full ?? null,
    fullAt: full === undefined ? null : isoTime(computedAt + full * 1000),
    samples: e.samples,
    rSquared: e.rSquared,
    windowMs: Number(e.windowMs),
  };
}

/** `tor-a1-1 default v4: 87 % held, full in ~3 days at the last 24 h rate (412 events, R² 0.97)`. */
export function forecastLine(r: ForecastView, c: Colors): string {
  const place = r.tor !== "" ? r.tor : r.pod !== "" ? r.pod : r.zone;
  const pct = r.heldRatio * 100;
  const pctText = `${pct < 10 ? pct.toFixed(1) : Math.round(pct)} % held`;
  const paint = pct >= 90 ? c.red : pct >= 70 ? c.yellow : (s: string) => s;
  const head = `${place} ${r.purpose} ${r.family === "ipv4" ? "v4" : "v6"}: ${paint(pctText)}`;
  const window = r.windowMs === 0 ? "no history yet" : `the last ${windowText(r.windowMs)}`;
  const confidence = `${r.samples} event${r.samples === 1 ? "" : "s"}, R² ${r.rSquared.toFixed(2)}`;
  if (r.fullInSeconds === null) {
    return `${head}, no growth ${r.windowMs === 0 ? `(${window})` : `over ${window}`} (${confidence})`;
  }
  const soon = r.fullInSeconds < 7 * 86_400 ? c.red : (s: string) => s;
  return `${head}, ${soon(`full in ${roughDuration(r.fullInSeconds)}`)} at ${window} rate (${confidence})`;
}

interface ForecastFlags {
  readonly zone?: string;
  readonly tor?: string;
  readonly purpose?: string;
  readonly family?: string;
  readonly window?: string;
}

/**
 * `ipamctl forecast [--zone Z] [--tor T] [--purpose P] [--family 4|6] [--window 24h]`: the
 * exhaustion forecast per zone / pod / TOR, purpose and family.
 */
export function register(program: Command, context: CommandContext): void {
  program
    .command("forecast")
    .description("exhaustion forecast: use, net allocation rate and time to full per place")
    .option("--zone <id>", "only subnets in this zone")
    .option("--tor <id>", "only subnets of this TOR")
    .option("--purpose <name>", "only this purpose")
    .option("--family <4|6>", "only this family")
    .option("--window <duration>", "the rate window", "24h")
    .action(async (flags: ForecastFlags) => {
      const windowMs = parseDurationFlag("window", flags.window ?? "24h");
      let family = Family.UNSPECIFIED;
      if (flags.family !== undefined) {
        const f = flags.family.replace(/^(ipv|v)/i, "");
        if (f !== "4" && f !== "6") throw usageError("family", `"${flags.family}" is not 4 or 6`);
        family = f === "4" ? Family.IPV4 : Family.IPV6;
      }
      const answer = await context.cluster().forecast({
        windowMs: BigInt(windowMs),
        zone: flags.zone ?? "",
        tor: flags.tor ?? "",
        purpose: flags.purpose ?? "",
        family,
      });
      const computedAt = Number(answer.computedAtUnixMs);
      const entries = answer.entries.map((e) => view(e, computedAt));
      const data = { server: answer.serverId, computedAt: isoTime(computedAt), windowMs, entries };
      context
        .output()
        .result("Forecast", data, (c) =>
          entries.length === 0
            ? "no subnet matches"
            : entries.map((r) => forecastLine(r, c)).join("\n"),
        );
    });
}
