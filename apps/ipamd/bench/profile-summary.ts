// Summarises a V8 CPU profile (`node --cpu-prof`) of the daemon into self-time categories
// (GC, SQLite and the store, grpc-js, node:http2, protobuf, the allocator, ...), as shares of
// the busy time (idle excluded). Native frames (better-sqlite3's statements, fsync inside
// COMMIT) have no script URL and count for the category of their JavaScript caller.
// Usage: tsx bench/profile-summary.ts [--windows windows.json] FILE.cpuprofile...
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string };
  readonly children?: readonly number[];
}

/** The parts of the `.cpuprofile` JSON this summary reads. */
export interface CpuProfile {
  /** Monotonic clock, µs: the same clock as `process.hrtime` in any process of this machine. */
  readonly startTime: number;
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Self time of one category, ms, and its share of the busy time. */
export interface CategoryTime {
  readonly category: string;
  readonly ms: number;
  readonly share: number;
}

export interface ProfileSummary {
  /** Sampled time that was not idle, ms. */
  readonly busyMs: number;
  readonly idleMs: number;
  /** Largest first. */
  readonly categories: readonly CategoryTime[];
  /** Time spent in or under the store's group commit flush (inclusive), ms and share of busy. */
  readonly groupCommit: { readonly ms: number; readonly share: number };
}

/** Category of a frame from its script URL, or undefined for a native frame (inherits). */
function categoryOf(functionName: string, url: string): string | undefined {
  if (functionName === "(garbage collector)") return "GC";
  if (functionName === "(idle)") return "idle";
  if (functionName === "(program)") return "V8 and native, unattributed (program)";
  if (url === "") return undefined;
  if (/better-sqlite3|packages\/store\/|@ipam\/store/.test(url)) return "store (SQLite, fsync)";
  if (url.includes("@grpc/grpc-js")) return "grpc-js";
  if (/^node:(internal\/)?http2/.test(url)) return "node:http2";
  if (url.includes("@bufbuild/protobuf") || url.includes("/gen/")) return "protobuf";
  if (/packages\/grpc-server\/|@ipam\/grpc-server/.test(url)) return "@ipam/grpc-server layer";
  if (/packages\/(subnet-pool|bitmap)\//.test(url)) return "allocator (subnet-pool, bitmap)";
  if (/packages\/raft\//.test(url)) return "raft";
  if (/packages\/metrics\/|prom-client/.test(url)) return "metrics";
  if (url.includes("pino")) return "logging";
  if (url.includes("apps/ipamd/")) return "ipamd (agent, daemon)";
  if (url.startsWith("node:")) return "node internals (net, streams, timers)";
  return "other";
}

/** True for the frames of the group commit's flush (inclusive time is measured under them). */
function isGroupCommitFrame(functionName: string, url: string): boolean {
  return /packages\/store\/|@ipam\/store/.test(url) && /flush|#commit|runBatch/.test(functionName);
}

/** A span of the monotonic clock, µs (`process.hrtime.bigint() / 1000n`). */
export type Window = readonly [startUs: number, endUs: number];

/**
 * Self time by category over the whole profile, or only over the samples taken inside
 * `windows` (e.g. the load rounds, leaving out start-up and the other targets' rounds).
 */
export function summarizeProfile(profile: CpuProfile, windows?: readonly Window[]): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const category = new Map<number, string>();
  const inCommit = new Set<number>();
  const visit = (id: number, inherited: string, commit: boolean) => {
    const node = byId.get(id);
    if (node === undefined) return;
    const { functionName, url } = node.callFrame;
    const own = categoryOf(functionName, url) ?? inherited;
    const under = commit || isGroupCommitFrame(functionName, url);
    category.set(id, own);
    if (under) inCommit.add(id);
    for (const child of node.children ?? []) visit(child, own, under);
  };
  const root = profile.nodes[0];
  if (root !== undefined) visit(root.id, "other", false);

  const totals = new Map<string, number>();
  let commitUs = 0;
  // timeDeltas[i] is the time since the previous sample, counted for sample i: a thread blocked
  // in a system call (fsync) takes its sample only when the call returns, still inside the
  // caller, so the blocked time belongs to that late sample's stack.
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const us = profile.timeDeltas[i] ?? 0;
    at += us;
    if (windows !== undefined && !windows.some(([a, b]) => at >= a && at < b)) continue;
    const id = profile.samples[i]!;
    const c = category.get(id) ?? "other";
    totals.set(c, (totals.get(c) ?? 0) + us);
    if (inCommit.has(id)) commitUs += us;
  }
  const idleUs = totals.get("idle") ?? 0;
  totals.delete("idle");
  const busyUs = [...totals.values()].reduce((a, b) => a + b, 0);
  const share = (us: number) => (busyUs === 0 ? 0 : us / busyUs);
  return {
    busyMs: busyUs / 1000,
    idleMs: idleUs / 1000,
    categories: [...totals.entries()]
      .map(([c, us]) => ({ category: c, ms: us / 1000, share: share(us) }))
      .sort((a, b) => b.ms - a.ms),
    groupCommit: { ms: commitUs / 1000, share: share(commitUs) },
  };
}

/** The summary as printable lines (a table of categories, then the group commit line). */
export function formatSummary(title: string, s: ProfileSummary): string[] {
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  return [
    `${title}: busy ${(s.busyMs / 1000).toFixed(2)} s, idle ${(s.idleMs / 1000).toFixed(2)} s`,
    ...s.categories.map((c) => `  ${pct(c.share).padStart(7)}  ${c.category}`),
    `  group commit flush (inclusive): ${pct(s.groupCommit.share)}`,
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const at = args.indexOf("--windows");
  const windows =
    at === -1 ? undefined : (JSON.parse(readFileSync(args[at + 1]!, "utf8")) as Window[]);
  if (at !== -1) args.splice(at, 2);
  for (const file of args) {
    const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
    for (const line of formatSummary(file, summarizeProfile(profile, windows))) console.log(line);
  }
}
