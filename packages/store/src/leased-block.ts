import { canonicalAddress } from "./allocation-record.js";
import { StoreError } from "./store-error.js";

/** A block of addresses leased to this node by the cluster (L1), remembered across restarts. */
export interface LeasedBlock {
  /** Subnet the block belongs to (id or CIDR, as the cluster names it). */
  readonly subnet: string;
  /** The block, e.g. `10.0.1.64/26` or `fd00::/122`; canonical address text. The key. */
  readonly cidr: string;
  /** When the lease was granted, milliseconds since the Unix epoch. */
  readonly leasedAt: number;
}

/**
 * Checks a CIDR's syntax and returns it with the address part canonicalised. Host bits are
 * not checked here (the subnet-pool package owns address math).
 * @throws StoreError `INVALID_ARGUMENT` naming `field`.
 */
export function normaliseCidr(field: string, cidr: unknown): string {
  const bad = () =>
    new StoreError("INVALID_ARGUMENT", `${field}: ${String(cidr)} is not a valid CIDR`, {
      details: { field },
    });
  if (typeof cidr !== "string") throw bad();
  const slash = cidr.indexOf("/");
  if (slash === -1) throw bad();
  const addr = canonicalAddress(cidr.slice(0, slash));
  const lenText = cidr.slice(slash + 1);
  if (addr === undefined || !/^\d{1,3}$/.test(lenText)) throw bad();
  const len = Number(lenText);
  if (len > (addr.includes(":") ? 128 : 32)) throw bad();
  return `${addr}/${len}`;
}

/** Validates a block and returns it in stored form. */
export function normaliseBlock(block: LeasedBlock, field = "block"): LeasedBlock {
  if (typeof block !== "object" || block === null) {
    throw new StoreError("INVALID_ARGUMENT", `${field}: expected an object`, {
      details: { field },
    });
  }
  if (typeof block.subnet !== "string" || block.subnet.length === 0) {
    throw new StoreError("INVALID_ARGUMENT", `${field}.subnet: expected a non-empty string`, {
      details: {
        field: `${field}.subnet`,
      },
    });
  }
  if (
    typeof block.leasedAt !== "number" ||
    !Number.isSafeInteger(block.leasedAt) ||
    block.leasedAt < 0
  ) {
    throw new StoreError(
      "INVALID_ARGUMENT",
      `${field}.leasedAt: ${String(block.leasedAt)} is not a non-negative integer of milliseconds`,
      { details: { field: `${field}.leasedAt` } },
    );
  }
  return {
    subnet: block.subnet,
    cidr: normaliseCidr(`${field}.cidr`, block.cidr),
    leasedAt: block.leasedAt,
  };
}
