// `pnpm --filter @ipam/subnet-pool bench`: NodeAllocator allocate+release, ClusterState apply
// (lease-block, allocate-direct), the sparse block index against a naive scan, and the scale
// case (5,000 nodes, 250 TORs, 20,000 leased blocks, 150,000 direct allocations): snapshot
// time and size, restore time, heap. Writes bench-results/subnet-pool.json and prints a table.
import {
  type BenchRow,
  printTable,
  summarize,
  withBaseline,
  writeBenchResults,
} from "@ipam/bench-kit";
import { exampleTopology, type Subnet, type TopologyConfig } from "@ipam/topology";
import { BlockIndex, ClusterState, NodeAllocator } from "../src/index.js";
import { collect, timeBatches } from "./harness.js";

const rows: BenchRow[] = [];
const KEYS = 4096;
const keys = Array.from({ length: KEYS }, (_, i) => ({
  network: "k8s",
  containerId: `container-${i}`,
  ifname: "eth0",
}));

function subnetOf(id: string, patch: Partial<Subnet> = {}): Subnet {
  const s = exampleTopology().subnets.get(id);
  if (s === undefined) throw new Error(`no subnet ${id}`);
  return { ...s, ...patch };
}

/** A naive node allocator: a Map of keys and a first-fit linear scan over a byte array. */
class NaiveAllocator {
  readonly #used = new Uint8Array(2048);
  readonly #byKey = new Map<string, number>();
  allocate(key: { network: string; containerId: string; ifname: string }): number {
    const k = `${key.network}/${key.containerId}/${key.ifname}`;
    const found = this.#byKey.get(k);
    if (found !== undefined) return found;
    for (let i = 2; i < this.#used.length; i++) {
      if (this.#used[i] === 0) {
        this.#used[i] = 1;
        this.#byKey.set(k, i);
        return i;
      }
    }
    throw new Error("exhausted");
  }
  release(key: { network: string; containerId: string; ifname: string }): void {
    const k = `${key.network}/${key.containerId}/${key.ifname}`;
    const i = this.#byKey.get(k);
    if (i === undefined) return;
    this.#used[i] = 0;
    this.#byKey.delete(k);
  }
}

function benchNodeAllocator(): void {
  for (const [label, cooldown, families] of [
    ["IPv4, no cool-down", 0, [4]],
    ["IPv4, 30 s cool-down", 30, [4]],
    ["dual-stack, 30 s cool-down", 30, [4, 6]],
  ] as const) {
    const a = new NodeAllocator({ node: "node-a1" });
    const v4 = subnetOf("tor-a1-1-default-v4", { cooldownSeconds: cooldown });
    const v6 = subnetOf("tor-a1-1-default-v6", { cooldownSeconds: cooldown });
    // 32 /26 blocks (2,046 usable IPv4 addresses) and 8 /120 blocks, half of them in use.
    for (let i = 0; i < 32; i++)
      a.addBlock({
        node: "node-a1",
        cidr: `10.99.${i >> 2}.${(i & 3) * 64}/26`,
        leasedAt: 0,
        subnet: v4,
      });
    for (let i = 0; i < 8; i++)
      a.addBlock({
        node: "node-a1",
        cidr: `fd99::${(i * 256).toString(16)}/120`,
        leasedAt: 0,
        subnet: v6,
      });
    for (let i = 0; i < 1000; i++)
      a.allocate({
        key: { network: "k8s", containerId: `held-${i}`, ifname: "eth0" },
        families,
        now: 0,
      });
    let now = 0;
    let j = 0;
    const m = timeBatches((n) => {
      for (let i = 0; i < n; i++) {
        const key = keys[j] as (typeof keys)[number];
        j = (j + 1) & (KEYS - 1);
        now += 40; // 30 s cool-down: about 750 addresses cooling at any time
        a.allocate({ key, families, now });
        a.release(key, now);
      }
    });
    const ours = summarize(`node-allocator/allocate+release ${label}`, "ns/op", m.perOp, {
      count: m.ops,
    });
    if (label === "IPv4, no cool-down") {
      const naive = new NaiveAllocator();
      for (let i = 0; i < 1000; i++)
        naive.allocate({ network: "k8s", containerId: `held-${i}`, ifname: "eth0" });
      let k = 0;
      const b = timeBatches((n) => {
        for (let i = 0; i < n; i++) {
          const key = keys[k] as (typeof keys)[number];
          k = (k + 1) & (KEYS - 1);
          naive.allocate(key);
          naive.release(key);
        }
      });
      const base = summarize(
        "naive-first-fit/allocate+release IPv4 (1,000 held)",
        "ns/op",
        b.perOp,
        { count: b.ops },
      );
      rows.push(withBaseline(ours, base), base);
    } else rows.push(ours);
  }
}

function benchBlockIndex(): void {
  const leased = 20_000;
  const index = new BlockIndex<number>(2n ** 72n);
  const naive: bigint[] = [];
  for (let i = 0; i < leased; i++) {
    index.lease(BigInt(i), i);
    naive.push(BigInt(i));
  }
  const m = timeBatches((n) => {
    for (let i = 0; i < n; i++) {
      const free = index.firstFree();
      index.lease(free, 0);
      index.release(free);
    }
  });
  const ours = summarize(
    "block-index/lowest-free+lease+release /48 in /120 (2^72 blocks), 20,000 leased",
    "ns/op",
    m.perOp,
    { count: m.ops },
  );
  const b = timeBatches((n) => {
    for (let i = 0; i < n; i++) {
      let free = 0n;
      for (const x of naive) {
        if (x !== free) break;
        free++;
      }
      naive.push(free);
      naive.pop();
    }
  }, 300);
  const base = summarize(
    "naive-array-scan/lowest-free+lease+release, 20,000 leased",
    "ns/op",
    b.perOp,
    { count: b.ops },
  );
  rows.push(withBaseline(ours, base), base);
}

// --- scale case --------------------------------------------------------------------

const ZONES = 5;
const PODS_PER_ZONE = 5;
const TORS_PER_POD = 10;
const NODES_PER_TOR = 20;

function scaleConfig(): TopologyConfig {
  let t = 0;
  const zones = [];
  for (let z = 0; z < ZONES; z++) {
    const pods = [];
    for (let p = 0; p < PODS_PER_ZONE; p++) {
      const tors = [];
      for (let r = 0; r < TORS_PER_POD; r++, t++) {
        const v4 = 0x0a000000 + t * 4096;
        const m4 = 0xac100000 + t * 1024;
        const ip = (x: number) => `${x >>> 24}.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${x & 255}`;
        tors.push({
          id: `tor-${t}`,
          subnets: [
            { id: `tor-${t}-default-v4`, cidr: `${ip(v4)}/20`, blockPrefix: 26 },
            {
              id: `tor-${t}-default-v6`,
              cidr: `fd00:0:0:${t.toString(16)}::/64`,
              blockPrefix: 120,
            },
            {
              id: `tor-${t}-mgmt-v4`,
              cidr: `${ip(m4)}/22`,
              purpose: "management",
              blockPrefix: 32,
            },
          ],
          nodes: Array.from({ length: NODES_PER_TOR }, (_, n) => ({ id: `node-${t}-${n}` })),
        });
      }
      pods.push({ id: `pod-${z}-${p}`, tors });
    }
    zones.push({ id: `zone-${z}`, pods });
  }
  return { version: 1, zones } as TopologyConfig;
}

function must(result: { ok: boolean; error?: { message: string } }): void {
  if (!result.ok) throw new Error(result.error?.message);
}

function benchScale(): void {
  collect();
  const heap0 = process.memoryUsage().heapUsed;
  const state = new ClusterState();
  must(state.apply({ type: "apply-topology", at: 0, config: scaleConfig() }));
  const nodes = state.nodes().map((n) => n.id);
  const leaseTimes: number[] = [];
  const directTimes: number[] = [];
  let at = 1;
  for (const node of nodes) {
    for (const family of [4, 4, 6, 6] as const) {
      const t0 = process.hrtime.bigint();
      must(state.apply({ type: "lease-block", at: at++, node, purpose: "default", family }));
      leaseTimes.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
  }
  for (const node of nodes) {
    for (let i = 0; i < 30; i++) {
      const t0 = process.hrtime.bigint();
      must(
        state.apply({
          type: "allocate-direct",
          at: at++,
          node,
          purpose: "management",
          family: 4,
          key: { network: "underlay", containerId: `${node}-pod-${i}`, ifname: "eth1" },
        }),
      );
      directTimes.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
  }
  rows.push(
    summarize(
      "cluster-state/apply lease-block (building 20,000 leases over 5,000 nodes)",
      "us/op",
      leaseTimes,
    ),
  );
  rows.push(
    summarize(
      "cluster-state/apply allocate-direct (building 150,000 over 250 TOR subnets)",
      "us/op",
      directTimes,
    ),
  );

  // Steady state: lease+release and allocate+release pairs on the full cluster.
  let k = 0;
  const lr = timeBatches((n) => {
    for (let i = 0; i < n; i++) {
      const node = nodes[k++ % nodes.length] as string;
      const r = state.apply({ type: "lease-block", at: at++, node, purpose: "default", family: 6 });
      if (!r.ok) throw new Error(r.error.message);
      state.apply({ type: "release-block", at: at++, node, cidr: r.value.cidr });
    }
  }, 600);
  rows.push(
    summarize(
      "cluster-state/apply lease-block+release-block pair @ scale",
      "us/op",
      lr.perOp.map((x) => x / 1000),
      { count: lr.ops },
    ),
  );
  const dr = timeBatches((n) => {
    for (let i = 0; i < n; i++) {
      const node = nodes[k++ % nodes.length] as string;
      const key = { network: "underlay", containerId: `bench-${k}`, ifname: "eth1" };
      must(
        state.apply({
          type: "allocate-direct",
          at: at++,
          node,
          purpose: "management",
          family: 4,
          key,
        }),
      );
      state.apply({ type: "release-direct", at: at++, key });
    }
  }, 600);
  rows.push(
    summarize(
      "cluster-state/apply allocate-direct+release-direct pair @ scale",
      "us/op",
      dr.perOp.map((x) => x / 1000),
      { count: dr.ops },
    ),
  );

  collect();
  const heapMb = (process.memoryUsage().heapUsed - heap0) / 2 ** 20;

  const snapTimes: number[] = [];
  let bytes = state.snapshot();
  for (let i = 0; i < 5; i++) {
    const t0 = process.hrtime.bigint();
    bytes = state.snapshot();
    snapTimes.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  // Baseline: JSON.stringify of the same content as naive objects (no sorting, no topology canon).
  let naive: object | undefined = {
    topology: scaleConfig(),
    leases: nodes.flatMap((n) =>
      state
        .nodeLeases(n)
        .map((l) => ({ node: l.node, subnet: l.subnet.id, cidr: l.cidr, leasedAt: l.leasedAt })),
    ),
    direct: state.directAllocations(),
  };
  const naiveTimes: number[] = [];
  let naiveSize = 0;
  for (let i = 0; i < 5; i++) {
    const t0 = process.hrtime.bigint();
    naiveSize = Buffer.byteLength(JSON.stringify(naive));
    naiveTimes.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const restoreTimes: number[] = [];
  let copy: ClusterState | undefined;
  naive = undefined;
  for (let i = 0; i < 5; i++) {
    copy = undefined;
    collect(); // time the restore, not the collection of the benchmark's own garbage
    const t0 = process.hrtime.bigint();
    copy = ClusterState.restore(bytes);
    restoreTimes.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  if (
    copy === undefined ||
    Buffer.compare(Buffer.from(copy.snapshot()), Buffer.from(bytes)) !== 0
  ) {
    throw new Error("restored snapshot differs");
  }
  const snap = summarize(
    "scale/snapshot (5,000 nodes, 250 TORs, 20,000 blocks, 150,000 direct)",
    "ms",
    snapTimes,
  );
  const base = summarize(
    "naive/JSON.stringify of the same state as plain objects",
    "ms",
    naiveTimes,
  );
  rows.push(withBaseline(snap, base), base);
  // Sizes are one measurement each; the naive size is the ratio's baseline, not a row.
  rows.push(
    withBaseline(
      summarize("scale/snapshot size", "MB", [bytes.length / 2 ** 20]),
      summarize("naive JSON size", "MB", [naiveSize / 2 ** 20], { round: false }),
    ),
  );
  rows.push(summarize("scale/restore", "ms", restoreTimes));
  rows.push(summarize("scale/heap used by the state (after GC)", "MB", [heapMb]));
}

function main(): void {
  const started = Date.now();
  benchNodeAllocator();
  benchBlockIndex();
  benchScale();
  writeBenchResults(new URL("..", import.meta.url), "subnet-pool", rows);
  printTable(rows);
  console.log(
    `\n${rows.length} rows in ${((Date.now() - started) / 1000).toFixed(1)} s -> bench-results/subnet-pool.json`,
  );
}

try {
  main();
} catch (error) {
  console.error("benchmark could not run:", error);
  process.exitCode = 1;
}
