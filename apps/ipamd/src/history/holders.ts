import type { AddressEvent } from "@ipam/store";

/**
 * Who held the address at `at`: replays `events` (one address, ordered by time) up to and
 * including `at` and returns the allocate events of the keys (node, network, container,
 * interface) that had not released it by then, oldest first. Pure.
 *
 * An allocation whose event was pruned past the retention is unknown here; a release at exactly
 * `at` counts as released.
 */
export function holdersAt(events: readonly AddressEvent[], at: number): AddressEvent[] {
  const held = new Map<string, AddressEvent>();
  for (const e of events) {
    if (e.at > at) break;
    const key = `${e.node}\u0000${e.network}\u0000${e.containerId}\u0000${e.ifname}`;
    if (e.event === "allocate") held.set(key, e);
    else held.delete(key);
  }
  return [...held.values()];
}
