/** A client write in a simulated history. Times are event sequence numbers (strictly ordered). */
export interface HistoryWrite {
  readonly key: string;
  /** Unique across the whole history. */
  readonly value: string;
  readonly invokedAt: number;
  /** When the client was told the write committed; undefined if it never was (unknown outcome). */
  readonly ackedAt: number | undefined;
}

/** A completed client read. */
export interface HistoryRead {
  readonly key: string;
  readonly value: string | undefined;
  readonly invokedAt: number;
  readonly returnedAt: number;
}

/**
 * Check a key-value history against linearizability, for registers with unique written values
 * and a known write order (the order of the committed log: `logIndexOf(value)`, undefined when
 * the write never committed). Sound for this special case; returns a description per violation:
 * - an acknowledged write that is not in the committed log (lost write);
 * - writes ordered against real time (w1 acknowledged before w2 began, but w2 earlier in the log);
 * - a read of a value never committed, or of a write that began after the read returned;
 * - a stale read (returns a value older than a write acknowledged before the read began);
 * - a non-monotonic pair of reads, or a read ordered after a write that began after it returned.
 */
export function checkKvHistory(
  writes: readonly HistoryWrite[],
  reads: readonly HistoryRead[],
  logIndexOf: (value: string) => number | undefined,
): string[] {
  const out: string[] = [];
  const byValue = new Map<string, HistoryWrite>();
  const writesByKey = new Map<string, HistoryWrite[]>();
  for (const w of writes) {
    byValue.set(w.value, w);
    const list = writesByKey.get(w.key) ?? [];
    list.push(w);
    writesByKey.set(w.key, list);
    if (w.ackedAt !== undefined && logIndexOf(w.value) === undefined) {
      out.push(`acknowledged write ${w.key}=${w.value} is not in the committed log`);
    }
  }
  for (const list of writesByKey.values()) {
    const committed = list.filter((w) => logIndexOf(w.value) !== undefined);
    for (const a of committed) {
      if (a.ackedAt === undefined) continue;
      for (const b of committed) {
        if (a.ackedAt < b.invokedAt && (logIndexOf(b.value) ?? 0) < (logIndexOf(a.value) ?? 0)) {
          out.push(
            `write ${b.key}=${b.value} began after ${a.value} was acknowledged but precedes it`,
          );
        }
      }
    }
  }
  const readsByKey = new Map<string, HistoryRead[]>();
  for (const r of reads) {
    const list = readsByKey.get(r.key) ?? [];
    list.push(r);
    readsByKey.set(r.key, list);
    const idx = r.value === undefined ? 0 : logIndexOf(r.value);
    if (idx === undefined) {
      out.push(`read ${r.key} returned ${r.value}, which was never committed`);
      continue;
    }
    if (r.value !== undefined) {
      const w = byValue.get(r.value);
      if (w === undefined || w.key !== r.key) {
        out.push(`read ${r.key} returned ${r.value}, which was not written to ${r.key}`);
      } else if (w.invokedAt > r.returnedAt) {
        out.push(`read ${r.key} returned ${r.value} before that write began`);
      }
    }
    for (const w of writesByKey.get(r.key) ?? []) {
      const wi = logIndexOf(w.value);
      if (wi === undefined) continue;
      if (wi > idx && w.ackedAt !== undefined && w.ackedAt < r.invokedAt) {
        out.push(
          `stale read ${r.key}=${r.value}: ${w.value} was acknowledged before the read began`,
        );
      }
      if (wi < idx && w.invokedAt > r.returnedAt) {
        out.push(`read ${r.key}=${r.value} is ordered after ${w.value}, which began after it`);
      }
    }
  }
  for (const list of readsByKey.values()) {
    for (const a of list) {
      const ai = a.value === undefined ? 0 : (logIndexOf(a.value) ?? 0);
      for (const b of list) {
        const bi = b.value === undefined ? 0 : (logIndexOf(b.value) ?? 0);
        if (a.returnedAt < b.invokedAt && bi < ai) {
          out.push(`non-monotonic reads of ${a.key}: ${a.value} then ${b.value}`);
        }
      }
    }
  }
  return out;
}
