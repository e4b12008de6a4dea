import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { GrpcError } from "@ipam/grpc-client";
import {
  type AllocatedAddress,
  AllocatedAddressSchema,
  type AllocateRequest,
  type AllocateResponseSchema,
  type Attachment,
  Family,
  FamilySelection,
  ReadyState,
} from "@ipam/grpc-client/messages";
import type { IpamHandlers } from "../services.js";

/** Options of {@link createInMemoryIpam}. */
export interface InMemoryIpamOptions {
  /** Node id reported by Status and GetNodeBlocks; default `node-1`. */
  readonly nodeId?: string;
  /** Usable IPv4 host addresses in 10.99.0.0/24 (from .2 on); default 253. */
  readonly ipv4Capacity?: number;
  /** Clock for `createdAtUnixMs`; default Date.now. */
  readonly now?: () => number;
}

interface Row {
  readonly network: string;
  readonly containerId: string;
  readonly ifname: string;
  readonly podNamespace: string;
  readonly podName: string;
  readonly purpose: string;
  readonly createdAtUnixMs: number;
  readonly addresses: readonly AllocatedAddress[];
}

/** An in-memory node API plus a view of its records, for tests and benchmarks. */
export interface InMemoryIpam {
  readonly handlers: IpamHandlers;
  /** Number of allocation records held. */
  size(): number;
}

const keyOf = (network: string, containerId: string, ifname: string): string =>
  `${network}\u0000${containerId}\u0000${ifname}`;

/**
 * A small, complete, in-memory implementation of {@link IpamHandlers}: IPv4 from 10.99.0.0/24
 * (gateway .1) and IPv6 from fd99::/120 (gateway fd99::1), idempotent per key, lowest free
 * address first, no cool-down. Errors use the real codes (`INVALID_ARGUMENT`, `POOL_EXHAUSTED`,
 * `CONFLICT`). Not an allocator to run in production: it exists so clients can be tested
 * against a real server without the daemon.
 */
export function createInMemoryIpam(options: InMemoryIpamOptions = {}): InMemoryIpam {
  const nodeId = options.nodeId ?? "node-1";
  const ipv4Capacity = Math.min(options.ipv4Capacity ?? 253, 253);
  const now = options.now ?? Date.now;
  const rows = new Map<string, Row>();
  const used4 = new Set<number>();
  const used6 = new Set<number>();

  const address = (family: Family, host: number): AllocatedAddress =>
    create(AllocatedAddressSchema, {
      address: family === Family.IPV4 ? `10.99.0.${host}` : `fd99::${host.toString(16)}`,
      prefixLength: family === Family.IPV4 ? 24 : 120,
      gateway: family === Family.IPV4 ? "10.99.0.1" : "fd99::1",
      family,
      subnetId: family === Family.IPV4 ? "mem-v4" : "mem-v6",
      blockCidr: family === Family.IPV4 ? "10.99.0.0/24" : "fd99::/120",
      purpose: "default",
    });

  const take = (family: Family, requested: readonly string[]): AllocatedAddress => {
    const used = family === Family.IPV4 ? used4 : used6;
    const last = family === Family.IPV4 ? 1 + ipv4Capacity : 254;
    const prefix = family === Family.IPV4 ? "10.99.0." : "fd99::";
    const wanted = requested.find((text) => text.startsWith(prefix));
    if (wanted !== undefined) {
      const host = Number.parseInt(wanted.slice(prefix.length), family === Family.IPV4 ? 10 : 16);
      if (!(host >= 2 && host <= last)) {
        throw new GrpcError("INVALID_ARGUMENT", `requestedAddresses: ${wanted} is not allocatable`);
      }
      if (used.has(host)) throw new GrpcError("CONFLICT", `requestedAddresses: ${wanted} is taken`);
      used.add(host);
      return address(family, host);
    }
    for (let host = 2; host <= last; host++) {
      if (!used.has(host)) {
        used.add(host);
        return address(family, host);
      }
    }
    throw new GrpcError(
      "POOL_EXHAUSTED",
      `no free ${family === Family.IPV4 ? "IPv4" : "IPv6"} address`,
      {
        details: { subnetId: family === Family.IPV4 ? "mem-v4" : "mem-v6" },
      },
    );
  };

  const free = (row: Row): void => {
    for (const a of row.addresses) {
      if (a.family === Family.IPV4) used4.delete(Number.parseInt(a.address.slice(8), 10));
      else used6.delete(Number.parseInt(a.address.slice(6), 16));
    }
  };

  const required = (request: { network: string; containerId: string }, ifname?: string): void => {
    if (request.network === "") throw new GrpcError("INVALID_ARGUMENT", "network: required");
    if (request.containerId === "")
      throw new GrpcError("INVALID_ARGUMENT", "containerId: required");
    if (ifname === "") throw new GrpcError("INVALID_ARGUMENT", "ifname: required");
  };

  // Like ipamd: its one purpose is `default`; any other is a typo (INVALID_ARGUMENT naming it).
  const requirePurpose = (purpose: string): void => {
    if (purpose === "" || purpose === "default") return;
    throw new GrpcError(
      "INVALID_ARGUMENT",
      `unknown purpose ${purpose}: no subnet of the topology has it (purposes: default)`,
      { details: { field: "purpose", purpose, purposes: ["default"] } },
    );
  };

  const allocate = (request: AllocateRequest): MessageInitShape<typeof AllocateResponseSchema> => {
    required(request, request.ifname);
    requirePurpose(request.purpose);
    const key = keyOf(request.network, request.containerId, request.ifname);
    const existing = rows.get(key);
    if (existing !== undefined) {
      // Like ipamd: a key asking for another static address than it holds is a conflict.
      const held = existing.addresses.map((a) => a.address);
      const missing = (request.requestedAddresses ?? []).filter((a) => !held.includes(a));
      if (missing.length > 0) {
        throw new GrpcError(
          "CONFLICT",
          `key ${request.network}/${request.containerId}/${request.ifname} holds ${held.join(", ")}, not ${missing.join(", ")}`,
          { details: { held, requested: [...request.requestedAddresses] } },
        );
      }
      return { addresses: [...existing.addresses] };
    }
    const families =
      request.families === FamilySelection.DUAL_STACK
        ? [Family.IPV4, Family.IPV6]
        : request.families === FamilySelection.IPV6
          ? [Family.IPV6]
          : [Family.IPV4];
    const taken: AllocatedAddress[] = [];
    try {
      for (const family of families) taken.push(take(family, request.requestedAddresses));
    } catch (error) {
      free({ addresses: taken } as unknown as Row);
      throw error;
    }
    rows.set(key, {
      network: request.network,
      containerId: request.containerId,
      ifname: request.ifname,
      podNamespace: request.podNamespace,
      podName: request.podName,
      purpose: request.purpose === "" ? "default" : request.purpose,
      createdAtUnixMs: now(),
      addresses: taken,
    });
    return { addresses: taken, routes: [{ destination: "0.0.0.0/0" }] };
  };

  /** The last GC view per network, as the real agent keeps it. */
  const views = new Map<string, { receivedAtUnixMs: bigint; validAttachments: Attachment[] }>();

  const handlers: IpamHandlers = {
    allocate,
    release: (request) => {
      required(request);
      const released: string[] = [];
      for (const [key, row] of rows) {
        if (
          row.network === request.network &&
          row.containerId === request.containerId &&
          (request.ifname === "" || row.ifname === request.ifname)
        ) {
          rows.delete(key);
          free(row);
          released.push(...row.addresses.map((a) => a.address));
        }
      }
      return { released: released.length > 0, addresses: released };
    },
    check: (request) => {
      required(request, request.ifname);
      const row = rows.get(keyOf(request.network, request.containerId, request.ifname));
      if (row === undefined) return { ok: false, reason: "no allocation for key" };
      const held = row.addresses.map((a) => a.address).sort();
      const asked = [...request.addresses].sort();
      const ok = held.length === asked.length && held.every((a, i) => a === asked[i]);
      return { ok, reason: ok ? "" : "addresses differ", addresses: [...row.addresses] };
    },
    garbageCollect: (request) => {
      if (request.network === "") throw new GrpcError("INVALID_ARGUMENT", "network: required");
      views.set(request.network, {
        receivedAtUnixMs: BigInt(now()),
        validAttachments: request.validAttachments.map((a) => ({ ...a })),
      });
      const keep = new Set(
        request.validAttachments.map((a) => `${a.containerId}\u0000${a.ifname}`),
      );
      const released = [];
      for (const [key, row] of [...rows].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        if (row.network === request.network && !keep.has(`${row.containerId}\u0000${row.ifname}`)) {
          rows.delete(key);
          free(row);
          released.push({ network: row.network, containerId: row.containerId, ifname: row.ifname });
        }
      }
      return { released };
    },
    getRuntimeView: (request) => ({
      views: [...views]
        .filter(([network]) => request.network === "" || network === request.network)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([network, v]) => ({ network, ...v })),
    }),
    status: (request) => {
      requirePurpose(request.purpose ?? "");
      const full =
        request.families !== FamilySelection.IPV6 && used4.size >= ipv4Capacity
          ? "IPv4 default: 10.99.0.0/24 is full"
          : request.families !== FamilySelection.IPV4 &&
              request.families !== FamilySelection.UNSPECIFIED &&
              used6.size >= 253
            ? "IPv6 default: fd99::/120 is full"
            : "";
      return { state: full === "" ? ReadyState.READY : ReadyState.EXHAUSTED, reason: full, nodeId };
    },
    listAllocations: (request) => ({
      allocations: [...rows.values()]
        .filter((row) => request.network === "" || row.network === request.network)
        .map((row) => ({
          key: { network: row.network, containerId: row.containerId, ifname: row.ifname },
          addresses: [...row.addresses],
          podNamespace: row.podNamespace,
          podName: row.podName,
          purpose: row.purpose,
          createdAtUnixMs: BigInt(row.createdAtUnixMs),
          nodeId,
        })),
    }),
    getNodeBlocks: () => ({
      nodeId,
      blocks: [
        {
          cidr: "10.99.0.0/24",
          subnetId: "mem-v4",
          purpose: "default",
          family: Family.IPV4,
          capacity: String(ipv4Capacity),
          allocated: BigInt(used4.size),
          state: "leased",
        },
        {
          cidr: "fd99::/120",
          subnetId: "mem-v6",
          purpose: "default",
          family: Family.IPV6,
          capacity: "253",
          allocated: BigInt(used6.size),
          state: "leased",
        },
      ],
    }),
    getPoolStats: () => ({
      subnets: [
        {
          subnetId: "mem-v4",
          cidr: "10.99.0.0/24",
          purpose: "default",
          family: Family.IPV4,
          counts: {
            capacity: String(ipv4Capacity),
            leased: String(ipv4Capacity),
            held: String(used4.size),
            allocated: String(used4.size),
            reserved: "3",
            coolingDown: "0",
            free: String(ipv4Capacity - used4.size),
          },
          blocksTotal: "1",
          nodeBlocks: 1,
        },
      ],
    }),
  };
  return { handlers, size: () => rows.size };
}
