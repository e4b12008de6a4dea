/** The identity of one pod interface: what CNI ADD/DEL/CHECK name (DESIGN §5). */
export interface AllocationKey {
  readonly network: string;
  readonly containerId: string;
  readonly ifname: string;
}

/**
 * The map key of an allocation key: the three fields joined by NUL (which none of them can
 * contain in CNI). Equal keys give equal strings and different keys different strings.
 */
export function keyString(key: AllocationKey): string {
  return `${key.network}\u0000${key.containerId}\u0000${key.ifname}`;
}

/** Compares two allocation keys by network, then container id, then ifname (code units). */
export function compareKeys(a: AllocationKey, b: AllocationKey): number {
  const x = keyString(a);
  const y = keyString(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
