import type { StateMachine } from "../types.js";

/** A write command of the {@link KvStateMachine}. */
export interface KvPut {
  readonly key: string;
  readonly value: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encode a put command as entry data. */
export function encodeKvPut(put: KvPut): Uint8Array {
  return encoder.encode(JSON.stringify([put.key, put.value]));
}

/** Decode entry data produced by {@link encodeKvPut}. */
export function decodeKvPut(data: Uint8Array): KvPut {
  const [key, value] = JSON.parse(decoder.decode(data)) as [string, string];
  return { key, value };
}

/**
 * A tiny replicated key-value map used by the simulator and tests. `apply` stores the value and
 * returns the previous one; snapshots are deterministic (keys sorted).
 */
export class KvStateMachine implements StateMachine<string | undefined> {
  private readonly map = new Map<string, string>();
  applied = 0;

  apply(data: Uint8Array, index: number): string | undefined {
    const { key, value } = decodeKvPut(data);
    const previous = this.map.get(key);
    this.map.set(key, value);
    this.applied = index;
    return previous;
  }

  get(key: string): string | undefined {
    return this.map.get(key);
  }

  snapshot(): Uint8Array {
    const entries = [...this.map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return encoder.encode(JSON.stringify(entries));
  }

  restore(data: Uint8Array): void {
    this.map.clear();
    if (data.length === 0) return;
    for (const [k, v] of JSON.parse(decoder.decode(data)) as [string, string][]) this.map.set(k, v);
  }

  /** Canonical text of the whole state (for comparing replicas). */
  fingerprint(): string {
    return decoder.decode(this.snapshot());
  }
}
