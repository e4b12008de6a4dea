import type { AddressEvent as WireEvent } from "@ipam/grpc-server";
import { Family as WireFamily } from "@ipam/grpc-server";
import type { AddressEvent } from "@ipam/store";
import { IpamdError } from "../ipamd-error.js";

// Address events between the store's shape and the Cluster API's AddressEvent.

/** `e` on the wire (family derived from the address). */
export function wireEvent(e: AddressEvent) {
  return {
    nodeId: e.node,
    journalId: e.journal,
    seq: BigInt(e.seq),
    atUnixMs: BigInt(e.at),
    event: e.event,
    address: e.address,
    family: e.address.includes(":") ? WireFamily.IPV6 : WireFamily.IPV4,
    network: e.network,
    containerId: e.containerId,
    ifname: e.ifname,
    purpose: e.purpose,
    subnetId: e.subnet ?? "",
    podNamespace: e.podNamespace ?? "",
    podName: e.podName ?? "",
    podUid: e.podUid ?? "",
  };
}

/**
 * A shipped event as the archive stores it, under `node` and `journal` (the request's). The
 * Cluster API's limits checked each field's form; this checks what they cannot: required
 * fields, an event kind, a seq from 1. Throws INVALID_ARGUMENT naming `events[i].<field>`.
 */
export function eventFromWire(
  w: WireEvent,
  i: number,
  node: string,
  journal: string,
): AddressEvent {
  const field = (name: string) => `events[${i}].${name}`;
  const need = (name: string, value: string) => {
    if (value === "") throw new IpamdError("INVALID_ARGUMENT", `${field(name)}: must not be empty`);
    return value;
  };
  if (w.seq < 1n || w.seq > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new IpamdError(
      "INVALID_ARGUMENT",
      `${field("seq")}: ${w.seq} is not a journal position (1..2^53)`,
    );
  }
  if (w.atUnixMs < 0n || w.atUnixMs > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new IpamdError(
      "INVALID_ARGUMENT",
      `${field("at_unix_ms")}: ${w.atUnixMs} is not a time in ms`,
    );
  }
  if (w.event !== "allocate" && w.event !== "release") {
    throw new IpamdError(
      "INVALID_ARGUMENT",
      `${field("event")}: must be allocate or release, not "${w.event}"`,
    );
  }
  if (w.nodeId !== "" && w.nodeId !== node) {
    throw new IpamdError(
      "INVALID_ARGUMENT",
      `${field("node_id")}: ${w.nodeId} is not the reporting node ${node}`,
    );
  }
  return {
    node,
    journal,
    seq: Number(w.seq),
    at: Number(w.atUnixMs),
    event: w.event,
    address: need("address", w.address),
    network: need("network", w.network),
    containerId: need("container_id", w.containerId),
    ifname: need("ifname", w.ifname),
    purpose: need("purpose", w.purpose),
    ...(w.subnetId === "" ? {} : { subnet: w.subnetId }),
    ...(w.podNamespace === "" ? {} : { podNamespace: w.podNamespace }),
    ...(w.podName === "" ? {} : { podName: w.podName }),
    ...(w.podUid === "" ? {} : { podUid: w.podUid }),
  };
}
