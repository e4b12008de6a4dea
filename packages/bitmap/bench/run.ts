// `pnpm --filter @ipam/bitmap bench`: allocate+release benchmarks for the
// bitmap and IpBlock against a naive linear scan run in the same process on
// the same bit contents, plus a heap check of the IPv4 hot path. Writes
// bench-results/bitmap.json (rows as BENCHMARKS.md describes) and prints a table.
import { loadavg } from "node:os";
import { PerformanceObserver } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import {
  type BenchRow,
  printTable,
  round,
  summarize,
  withBaseline,
  writeBenchResults,
} from "@ipam/bench-kit";
import { Bitmap, Cidr, IpBlock } from "../src/index.js";
import { measureInterleaved, row, xorshift32 } from "./harness.js";
import { NaiveBitmap, naiveAllocateNextFree, WordScanBitmap } from "./naive.js";

type Pattern = "packed" | "scattered";

const SIZES = [
  { label: "/24", bits: 1 << 8 },
  { label: "/16", bits: 1 << 16 },
  { label: "/12-sized", bits: 1 << 20 },
] as const;
const FILLS = [0, 0.5, 0.9, 0.99] as const;
const PATTERNS: readonly Pattern[] = ["packed", "scattered"];

/**
 * Bits to set for a fill level. Packed: the lowest bits (what first-fit
 * leaves). Scattered: all but `free` bits chosen by a seeded shuffle (what
 * churn leaves). Deterministic for a given (capacity, fill, pattern).
 */
function filledBits(capacity: number, fill: number, pattern: Pattern): Uint8Array {
  const taken = Math.round(capacity * fill);
  const set = new Uint8Array(capacity);
  if (pattern === "packed") {
    set.fill(1, 0, taken);
    return set;
  }
  set.fill(1);
  const order = new Uint32Array(capacity);
  for (let i = 0; i < capacity; i++) order[i] = i;
  const random = xorshift32(0x9e3779b9 ^ capacity ^ Math.round(fill * 1000));
  const free = capacity - taken;
  for (let i = 0; i < free; i++) {
    const j = i + (random() % (capacity - i));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
    set[order[i]!] = 0;
  }
  return set;
}

function label(fill: number): string {
  return `@${Math.round(fill * 100)}% full`;
}

const rows: BenchRow[] = [];

/** The rows of runs measured in turns (see measureInterleaved), in the order given. */
function interleaved(
  unit: string,
  entries: readonly (readonly [name: string, run: (n: number) => void])[],
  options: { budgetMs?: number; minBatches?: number } = {},
): BenchRow[] {
  const measured = measureInterleaved(
    entries.map(([, run]) => run),
    options,
  );
  return entries.map(([name], i) => row(name, unit, measured[i]!));
}

function benchBitmaps(): void {
  for (const size of SIZES) {
    for (const fill of FILLS) {
      for (const pattern of PATTERNS) {
        if (fill === 0 && pattern === "scattered") continue; // identical to packed
        const bits = filledBits(size.bits, fill, pattern);
        const ours = new Bitmap(size.bits);
        const naive = new NaiveBitmap(size.bits);
        for (let i = 0; i < size.bits; i++) {
          if (bits[i] === 1) {
            ours.set(i);
            naive.set(i);
          }
        }
        const suffix = `${size.label} ${label(fill)} ${pattern}`;
        // First-fit against its baselines, in turns: the naive scan always; at
        // 99 % from a /16 up also the plain word scan (skips full words with
        // Math.clz32: the strongest linear baseline) and IpBlock's next-fit.
        const entries: [string, (n: number) => void][] = [
          [
            `bitmap/allocate+release ${suffix}`,
            (n) => {
              for (let i = 0; i < n; i++) ours.clear(ours.allocateFirstFree());
            },
          ],
          [
            `naive-scan/allocate+release ${suffix}`,
            (n) => {
              for (let i = 0; i < n; i++) naive.clear(naive.allocateFirstFree());
            },
          ],
        ];
        const wide = fill === 0.99 && size.bits >= 1 << 16;
        if (wide) {
          const words = new WordScanBitmap(size.bits);
          words.words.set(naive.words);
          entries.push([
            `word-scan/allocate+release ${suffix}`,
            (n) => {
              for (let i = 0; i < n; i++) words.clear(words.allocateFirstFree());
            },
          ]);
        }
        // Next-fit through IpBlock's allocation-free offset path, for the IPv4 targets.
        if (fill === 0.99 && size.bits === 1 << 16) {
          const block = new IpBlock(Cidr.parse("10.1.0.0/16"), {
            subnet: Cidr.parse("10.0.0.0/8"),
          });
          for (let i = 0; i < size.bits; i++) if (bits[i] === 1) block.claimOffset(i);
          entries.push([
            `ipblock-v4/allocateOffset+releaseOffset (next-fit) ${suffix}`,
            (n) => {
              for (let i = 0; i < n; i++) block.releaseOffset(block.allocateOffset());
            },
          ]);
        }
        const [fast, slow, ...others] = interleaved("ns/op", entries, {
          budgetMs: 300 * entries.length,
        });
        rows.push(withBaseline(fast!, slow!), slow!);
        for (const other of others) {
          if (other.name.startsWith("word-scan/")) {
            rows.push(other, withBaseline({ ...fast!, name: `${fast!.name} vs word-scan` }, other));
          } else {
            rows.push(withBaseline(other, slow!));
          }
        }
        // Next-fit from random cursors: defeats the first-fit hint and walks the
        // hierarchy up and down (the worst case of the summary levels).
        if (wide) {
          const random = xorshift32(12345);
          const cursors = new Uint32Array(4096);
          for (let i = 0; i < cursors.length; i++) cursors[i] = random() % size.bits;
          let k = 0;
          const [tree, scan] = interleaved(
            "ns/op",
            [
              [
                `bitmap/allocateNextFree(random cursor)+release ${suffix}`,
                (n) => {
                  for (let i = 0; i < n; i++) {
                    ours.clear(ours.allocateNextFree(cursors[k++ & 4095]!));
                  }
                },
              ],
              [
                `naive-scan/allocateNextFree(random cursor)+release ${suffix}`,
                (n) => {
                  for (let i = 0; i < n; i++) {
                    naive.clear(naiveAllocateNextFree(naive, cursors[k++ & 4095]!));
                  }
                },
              ],
            ],
            { budgetMs: 650 },
          );
          rows.push(withBaseline(tree!, scan!), scan!);
        }
      }
    }
  }
}

function benchIPv6(): void {
  const cidr = Cidr.parse("fd00:10::100:0/104");
  const capacity = 1 << 24;
  for (const [fill, pattern] of [
    [0, "packed"],
    [0.99, "packed"],
    [0.99, "scattered"],
  ] as const) {
    const bits = filledBits(capacity, fill, pattern);
    const block = new IpBlock(cidr, { subnet: Cidr.parse("fd00:10::/64") });
    const naive = new NaiveBitmap(capacity);
    for (let i = 0; i < capacity; i++) {
      if (bits[i] === 1) {
        block.claimOffset(i);
        naive.set(i);
      }
    }
    const suffix = `/104 ${label(fill)} ${pattern}`;
    const base = cidr.start;
    const [fast, slow] = interleaved(
      "ns/op",
      [
        [
          `ipblock-v6/allocate+release ${suffix}`,
          (n) => {
            for (let i = 0; i < n; i++) block.release(block.allocate());
          },
        ],
        [
          `naive-scan-v6/allocate+release ${suffix}`,
          (n) => {
            for (let i = 0; i < n; i++) {
              const bit = naive.allocateFirstFree();
              const ip = { family: 6, value: base + BigInt(bit) };
              naive.clear(Number(ip.value - base));
            }
          },
        ],
      ],
      { budgetMs: 650, minBatches: 3 },
    );
    rows.push(withBaseline(fast!, slow!), slow!);
  }
}

/** Forces a full GC (exposed through V8 flags at run time). */
function makeGc(): () => void {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  return () => {
    gc();
    gc();
  };
}

async function benchHeap(): Promise<void> {
  const gc = makeGc();
  const ops = 1_000_000;
  const block = new IpBlock(Cidr.parse("10.1.0.0/16"), { subnet: Cidr.parse("10.0.0.0/8") });
  const bits = filledBits(1 << 16, 0.5, "scattered");
  for (let i = 0; i < bits.length; i++)
    if (bits[i] === 1 && block.stateOfOffset(i) === "free") block.claimOffset(i);

  let gcEvents = 0;
  const observer = new PerformanceObserver((list) => {
    gcEvents += list.getEntries().length;
  });
  observer.observe({ entryTypes: ["gc"] });
  const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

  const offsetPath = (n: number) => {
    for (let i = 0; i < n; i++) block.releaseOffset(block.allocateOffset());
  };
  const objectPath = (n: number) => {
    for (let i = 0; i < n; i++) block.release(block.allocate());
  };
  for (const [name, run] of [
    ["ipblock-v4/heap growth over 1M allocateOffset+releaseOffset", offsetPath],
    [
      "ipblock-v4/heap growth over 1M allocate()+release(ip) (object path, for contrast)",
      objectPath,
    ],
  ] as const) {
    run(200_000); // warm up: optimise before measuring
    gc();
    await settle();
    gcEvents = 0;
    const before = process.memoryUsage().heapUsed;
    run(ops);
    const after = process.memoryUsage().heapUsed;
    await settle();
    // One measurement each: value = p50 = p99; samples counts the operations.
    rows.push(summarize(name, "bytes", [after - before], { count: ops }));
    rows.push(
      summarize(name.replace("heap growth", "GC events"), "count", [gcEvents], { count: ops }),
    );
  }
  observer.disconnect();
}

async function main(): Promise<void> {
  const started = Date.now();
  benchBitmaps();
  benchIPv6();
  await benchHeap();
  writeBenchResults(new URL("..", import.meta.url), "bitmap", rows);
  printTable(rows);
  console.log(
    `\n${rows.length} rows in ${round((Date.now() - started) / 1000)} s, Node ${process.version}, ` +
      `load average ${loadavg()
        .map((x) => x.toFixed(2))
        .join(" ")} (1/5/15 min; each row records its own); ` +
      "written to bench-results/bitmap.json",
  );
}

main().catch((error: unknown) => {
  console.error("bitmap benchmarks could not run:", error);
  process.exit(1);
});
