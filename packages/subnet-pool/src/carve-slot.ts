import { Cidr } from "@ipam/bitmap";

/** Where a carve puts the new subnet (docs/subnet-pool.md, "Supernets"). */
export type CarvePlacement = "adjacent" | "first-free";

/**
 * The slot of `/prefix` in `supernet` to carve for a TOR whose subnets (of the purpose and
 * family, any state) are `own`: the first free slot adjacent to one of them (by address: the
 * sibling that aggregates with it, then the slot after it, then the slot before it), else the
 * first free aligned slot of the supernet. Free: overlapping no subnet of the topology (`taken`,
 * sorted by start) and no subnet id. Undefined when the supernet has no free slot of that size.
 * Pure; O(own + taken + slots skipped).
 */
export function pickCarveSlot(
  supernet: Cidr,
  prefix: number,
  own: readonly Cidr[],
  taken: readonly Cidr[],
  ids: ReadonlySet<string>,
): { cidr: Cidr; placement: CarvePlacement } | undefined {
  const size = 1n << BigInt(supernet.bits - prefix);
  const free = (start: bigint): Cidr | undefined => {
    if (start < supernet.start || start + size - 1n > supernet.end || start % size !== 0n)
      return undefined;
    const cidr = supernet.subBlock(prefix, (start - supernet.start) / size);
    if (ids.has(cidr.toString())) return undefined;
    return taken.some((t) => t.overlaps(cidr)) ? undefined : cidr;
  };
  for (const o of [...own].sort(Cidr.compare)) {
    const starts = [o.end + 1n, o.start - size];
    if (o.prefix === prefix) starts.unshift(o.start ^ size);
    for (const start of starts) {
      const cidr = free(start);
      if (cidr !== undefined) return { cidr, placement: "adjacent" };
    }
  }
  let cursor = supernet.start;
  for (const t of taken) {
    if (t.end < cursor) continue;
    if (t.start > supernet.end) break;
    while (cursor + size - 1n < t.start) {
      const cidr = free(cursor);
      if (cidr !== undefined) return { cidr, placement: "first-free" };
      cursor += size;
    }
    const after = t.end + 1n;
    cursor = after % size === 0n ? after : (after / size + 1n) * size;
  }
  for (; cursor + size - 1n <= supernet.end; cursor += size) {
    const cidr = free(cursor);
    if (cidr !== undefined) return { cidr, placement: "first-free" };
  }
  return undefined;
}
