import { Cidr, formatIp, type IpRange } from "@ipam/bitmap";
import { type AddressInterval, reservedIntervals, type Subnet } from "@ipam/topology";
import { byString, fail, requireString } from "./command-args.js";
import type { Reservation, ReserveCommand, UnreserveCommand } from "./commands.js";
import { PoolError } from "./pool-error.js";
import { parseReservedEntry } from "./subnet-geometry.js";
import type { SubnetState, SubnetTable } from "./subnet-table.js";
import type { UndoJournal } from "./undo-journal.js";

/**
 * Run-time reservations (`reserve` / `unreserve`) of each subnet, and what is reserved in a
 * subnet all told: its configured `reserved` ranges plus the run-time ones. The reservations
 * themselves are kept on the {@link SubnetState} (they follow the subnet when apply-topology
 * rebuilds its state); the derived views are cached there and cleared on every change.
 *
 * A direct-mode subnet's bitmap must be rebuilt after a change here: the caller does that
 * (direct-allocations.ts), since a reservation over an allocated address fails the command.
 */
export class Reservations {
  readonly #journal: UndoJournal;
  readonly #subnets: SubnetTable;

  constructor(journal: UndoJournal, subnets: SubnetTable) {
    this.#journal = journal;
    this.#subnets = subnets;
  }

  /**
   * The reserve command's change: returns the reservation and whether it is new (a range
   * already reserved returns the existing reservation and changes nothing).
   */
  reserve(st: SubnetState, c: ReserveCommand): { reservation: Reservation; added: boolean } {
    const range = this.#parseRange(st, c.range, "reserve.range");
    const reason =
      typeof c.reason === "string"
        ? c.reason
        : fail("INVALID_ARGUMENT", "reserve.reason: must be a string");
    const existing = st.reservations.get(range);
    if (existing !== undefined) return { reservation: existing, added: false };
    const reservation: Reservation = { subnet: st.subnet.id, range, reason, at: c.at };
    this.#journal.set(st.reservations, range, reservation);
    this.#subnets.invalidate(st);
    return { reservation, added: true };
  }

  /** The unreserve command's change. @throws PoolError `NOT_FOUND` for a range not reserved. */
  unreserve(st: SubnetState, c: UnreserveCommand): Reservation {
    const range = this.#parseRange(st, c.range, "unreserve.range");
    const existing = st.reservations.get(range);
    if (existing === undefined)
      fail("NOT_FOUND", `unreserve.range: ${range} is not reserved in ${st.subnet.id}`);
    this.#journal.delete(st.reservations, range);
    this.#subnets.invalidate(st);
    return existing;
  }

  /** Puts a reservation back while a snapshot is restored (trusted, not recorded). */
  restore(st: SubnetState, reservation: Reservation): void {
    st.reservations.set(reservation.range, reservation);
  }

  /** The run-time reservations of a subnet, sorted by range (a fresh array). */
  list(st: SubnetState): Reservation[] {
    return [...st.reservations.values()].sort((a, b) => byString(a.range, b.range));
  }

  /** The run-time reserved ranges, parsed, sorted by their canonical text. */
  runtimeRanges(st: SubnetState): (Cidr | IpRange)[] {
    return [...st.reservations.keys()].sort(byString).map(parseReservedEntry);
  }

  /** Reserved intervals (configured + run-time), sorted and merged. Cached; do not mutate. */
  intervals(st: SubnetState): AddressInterval[] {
    if (st.intervals === undefined) {
      const all = [...reservedIntervals(st.subnet)];
      for (const r of this.runtimeRanges(st)) {
        all.push(
          r instanceof Cidr
            ? { start: r.start, end: r.end }
            : { start: toBig(r.first), end: toBig(r.last) },
        );
      }
      all.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
      const merged: AddressInterval[] = [];
      for (const x of all) {
        const last = merged[merged.length - 1];
        if (last !== undefined && x.start <= last.end + 1n) {
          if (x.end > last.end) merged[merged.length - 1] = { start: last.start, end: x.end };
        } else merged.push(x);
      }
      st.intervals = merged;
    }
    return st.intervals;
  }

  /** The subnet as leases carry it: `reserved` includes the run-time reservations. Cached. */
  leaseSubnet(st: SubnetState): Subnet {
    if (st.leaseSubnet === undefined) {
      st.leaseSubnet =
        st.reservations.size === 0
          ? st.subnet
          : Object.freeze({
              ...st.subnet,
              reserved: [...st.subnet.reserved, ...[...st.reservations.keys()].sort(byString)],
            });
    }
    return st.leaseSubnet;
  }

  /** The canonical text of a reserve/unreserve `range` inside the subnet. */
  #parseRange(st: SubnetState, text: unknown, path: string): string {
    const raw = requireString(text, path);
    let range: Cidr | IpRange;
    try {
      range = parseReservedEntry(raw);
    } catch (cause) {
      throw new PoolError(
        "INVALID_ARGUMENT",
        `${path}: ${raw} is not an address, CIDR or first-last range`,
        { cause },
      );
    }
    const [first, last] =
      range instanceof Cidr ? [range.start, range.end] : [toBig(range.first), toBig(range.last)];
    const family = range instanceof Cidr ? range.family : range.first.family;
    if (
      family !== st.subnet.family ||
      first > last ||
      first < st.geometry.cidr.start ||
      last > st.geometry.cidr.end
    ) {
      fail("INVALID_ARGUMENT", `${path}: ${raw} is not inside ${st.subnet.cidr}`);
    }
    return range instanceof Cidr
      ? range.toString()
      : `${formatIp(range.first)}-${formatIp(range.last)}`;
  }
}

function toBig(ip: { readonly family: 4 | 6; readonly value: number | bigint }): bigint {
  return typeof ip.value === "bigint" ? ip.value : BigInt(ip.value);
}
