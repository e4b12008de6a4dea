import type { RandomSource } from "../types.js";

/**
 * A small, fast seeded PRNG (mulberry32). Same seed, same sequence, on every platform.
 * Returns numbers uniformly distributed in [0, 1). Not cryptographic.
 */
export function createSeededRandom(seed: number): RandomSource {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
