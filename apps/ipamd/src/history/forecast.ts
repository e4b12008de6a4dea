import type { SubnetGrowth } from "@ipam/store";
import type { Family } from "@ipam/topology";

// The exhaustion forecast: pure arithmetic over the current use of each subnet and its net
// allocations per time bucket (docs/ipamd.md, "Exhaustion forecast").

/** One subnet's place, size and current use. */
export interface ForecastSubnet {
  readonly id: string;
  readonly purpose: string;
  readonly family: Family;
  /** Where it is attached: a TOR's subnet has all three, a pod's no tor, a zone's only zone. */
  readonly zone: string;
  readonly pod: string;
  readonly tor: string;
  /** Addresses that can be handed out (size minus reserved). */
  readonly capacity: bigint;
  /** Addresses in leased blocks plus direct allocations. */
  readonly leased: bigint;
  /** Addresses held by pods. */
  readonly held: bigint;
}

export interface ForecastInput {
  readonly subnets: readonly ForecastSubnet[];
  /** Net allocations per subnet and bucket since `windowStart` (AddressHistory.growth). */
  readonly growth: readonly SubnetGrowth[];
  /** Start of the window the series covers, ms. */
  readonly windowStart: number;
  /** End of the window (now), ms; `windowStart` when there is no history. */
  readonly windowEnd: number;
  /** Bucket width of `growth`, ms (> 0). */
  readonly bucketMs: number;
}

/** One row: the subnets of one place, purpose and family together. */
export interface ForecastRow {
  readonly zone: string;
  readonly pod: string;
  readonly tor: string;
  readonly purpose: string;
  readonly family: Family;
  readonly capacity: bigint;
  readonly leased: bigint;
  readonly held: bigint;
  /** Net allocations per hour over the window (allocations minus releases); 0 without history. */
  readonly ratePerHour: number;
  /** Seconds until `held` reaches `capacity` at that rate; undefined when the rate is not positive. */
  readonly fullInSeconds: number | undefined;
  /** Events (allocations and releases) in the window. */
  readonly samples: number;
  /** R² of the least-squares line through the cumulative net count per bucket (0..1). */
  readonly rSquared: number;
  /** The window the rate covers, ms. */
  readonly windowMs: number;
}

interface Group {
  readonly key: Omit<
    ForecastRow,
    | "capacity"
    | "leased"
    | "held"
    | "ratePerHour"
    | "fullInSeconds"
    | "samples"
    | "rSquared"
    | "windowMs"
  >;
  capacity: bigint;
  leased: bigint;
  held: bigint;
  readonly subnets: Set<string>;
}

/**
 * One row per (zone, pod, tor, purpose, family), sorted by those: the summed use of its subnets,
 * their net rate over the window (net allocations / window length) and the time to full at that
 * rate, with the number of events and the R² of the cumulative series as the confidence. The
 * rows are the caller's.
 */
export function forecast(input: ForecastInput): ForecastRow[] {
  const groups = new Map<string, Group>();
  const groupOf = new Map<string, Group>();
  for (const s of input.subnets) {
    const id = [s.zone, s.pod, s.tor, s.purpose, s.family].join("\u0000");
    let g = groups.get(id);
    if (g === undefined) {
      g = {
        key: { zone: s.zone, pod: s.pod, tor: s.tor, purpose: s.purpose, family: s.family },
        capacity: 0n,
        leased: 0n,
        held: 0n,
        subnets: new Set(),
      };
      groups.set(id, g);
    }
    g.capacity += s.capacity;
    g.leased += s.leased;
    g.held += s.held;
    g.subnets.add(s.id);
    groupOf.set(s.id, g);
  }
  const windowMs = Math.max(0, input.windowEnd - input.windowStart);
  const buckets = windowMs === 0 ? 0 : Math.ceil(windowMs / input.bucketMs);
  const series = new Map<Group, { net: number[]; samples: number }>();
  for (const g of groups.values()) series.set(g, { net: new Array(buckets).fill(0), samples: 0 });
  for (const row of input.growth) {
    const g = groupOf.get(row.subnet);
    const s = g === undefined ? undefined : series.get(g);
    if (s === undefined || row.bucket < 0 || row.bucket >= buckets) continue;
    s.net[row.bucket] = (s.net[row.bucket] ?? 0) + row.allocated - row.released;
    s.samples += row.allocated + row.released;
  }
  const rows: ForecastRow[] = [];
  for (const g of groups.values()) {
    const s = series.get(g) as { net: number[]; samples: number };
    const total = s.net.reduce((a, b) => a + b, 0);
    const perMs = windowMs === 0 ? 0 : total / windowMs;
    const free = g.capacity > g.held ? Number(g.capacity - g.held) : 0;
    rows.push({
      ...g.key,
      capacity: g.capacity,
      leased: g.leased,
      held: g.held,
      ratePerHour: perMs * 3_600_000,
      fullInSeconds: perMs > 0 ? free / perMs / 1000 : undefined,
      samples: s.samples,
      rSquared: rSquared(s.net, input.bucketMs),
      windowMs,
    });
  }
  const order = (r: ForecastRow) =>
    [r.zone, r.pod, r.tor, r.purpose, String(r.family)].join("\u0000");
  return rows.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
}

/**
 * R² of the least-squares line through (0, 0) and the cumulative sums of `net` at the end of
 * each bucket; 0 with fewer than 3 points or a flat series.
 */
export function rSquared(net: readonly number[], bucketMs: number): number {
  const xs: number[] = [0];
  const ys: number[] = [0];
  let c = 0;
  net.forEach((n, k) => {
    c += n;
    xs.push((k + 1) * bucketMs);
    ys.push(c);
  });
  const n = xs.length;
  if (n < 3) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (xs[i] as number) - mx;
    const dy = (ys[i] as number) - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return 0;
  return (sxy * sxy) / (sxx * syy);
}
