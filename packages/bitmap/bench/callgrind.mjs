// Instruction counts of allocate+release, stable under load (timings are not):
//
//   pnpm --filter @ipam/bitmap build
//   for n in 2000000 6000000; do
//     valgrind --tool=callgrind --callgrind-out-file=/dev/null --smc-check=all-non-file \
//       node packages/bitmap/bench/callgrind.mjs $n [warm] [word-scan] 2>&1 | grep Collected
//   done
//
// (second total - first total) / 4,000,000 = instructions per allocate+release on
// the scattered /16 at 99 % (bench/run.ts's bits). "warm" first runs the same loop
// on the fills bench/run.ts runs before it (the loop's type feedback is shared, as
// there); "word-scan" measures the plain word scan instead. Plain JavaScript on the
// built package, so that valgrind runs no TypeScript loader.
import { Bitmap } from "../dist/index.js";

const [opsArg = "2000000", ...flags] = process.argv.slice(2);
const warm = flags.includes("warm");
const wordScan = flags.includes("word-scan");

/** xorshift32, as bench/harness.ts. */
function xorshift32(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/** The bits bench/run.ts sets for a fill level and pattern. */
function filledBits(capacity, fill, pattern) {
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
  for (let i = 0; i < capacity - taken; i++) {
    const j = i + (random() % (capacity - i));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
    set[order[i]] = 0;
  }
  return set;
}

/** The plain word scan of bench/naive.ts. */
class WordScan {
  constructor(capacity) {
    this.capacity = capacity;
    this.words = new Uint32Array(Math.ceil(capacity / 32));
  }
  set(bit) {
    this.words[bit >>> 5] = this.words[bit >>> 5] | (1 << (bit & 31));
  }
  clear(bit) {
    this.words[bit >>> 5] = this.words[bit >>> 5] & ~(1 << (bit & 31));
  }
  allocateFirstFree() {
    const words = this.words;
    for (let w = 0; w < words.length; w++) {
      const word = words[w];
      if (word === 0xffffffff) continue;
      const inv = ~word;
      const bit = (w << 5) | (31 - Math.clz32(inv & -inv));
      if (bit >= this.capacity) return -1;
      words[w] = word | (inv & -inv);
      return bit;
    }
    return -1;
  }
}

function make(capacity, fill, pattern) {
  const bits = filledBits(capacity, fill, pattern);
  const b = wordScan ? new WordScan(capacity) : new Bitmap(capacity);
  for (let i = 0; i < capacity; i++) if (bits[i] === 1) b.set(i);
  return b;
}

// One loop literal for every bitmap, like bench/run.ts's first-fit rows.
const churn = (b) => (n) => {
  for (let i = 0; i < n; i++) b.clear(b.allocateFirstFree());
};
const repeat = (run, n) => {
  for (let done = 0; done < n; done += 10_000) run(10_000);
};
if (warm) {
  for (const [capacity, fill, pattern] of [
    [256, 0, "packed"],
    [256, 0.5, "packed"],
    [256, 0.99, "packed"],
    [256, 0.99, "scattered"],
    [65_536, 0, "packed"],
    [65_536, 0.5, "packed"],
    [65_536, 0.99, "packed"],
  ]) {
    repeat(churn(make(capacity, fill, pattern)), 300_000);
  }
}
const target = make(65_536, 0.99, "scattered");
repeat(churn(target), 300_000);
repeat(churn(target), Number(opsArg));
