import type { ErrorKind } from "@ipam/errors";
import {
  type AllocatedAddress,
  createLeanIpamClient,
  Family,
  FamilySelection,
  GrpcError,
  type LeanIpamClient,
  ReadyState,
} from "@ipam/grpc-client";
import type {
  AllocateInput,
  AllocateOutput,
  AttachmentKey,
  BackendAddress,
  BackendState,
  CheckOutput,
  IpamBackend,
} from "./backend.js";
import { CniError, type CniErrorCode } from "./cni-error.js";
import type { IpFamily } from "./ip.js";

/** Options of {@link createGrpcBackend}. */
export interface GrpcBackendOptions {
  /** ipamd's node API unix socket. */
  readonly socketPath: string;
  /** Deadline of each call, ms. */
  readonly timeoutMs: number;
}

/**
 * The one translation of an ipamd error's kind into the plugin's code (and so its CNI number):
 * the kind the server sent, never the spelling of its code. `INVALID_ARGUMENT` about the
 * purpose is the network configuration's fault (see {@link fromGrpcError}).
 */
export const KIND_TO_CNI_CODE: Readonly<Record<ErrorKind, CniErrorCode>> = {
  INVALID_ARGUMENT: "INVALID_ARGUMENT",
  NOT_FOUND: "NOT_FOUND",
  CONFLICT: "CONFLICT",
  POOL_EXHAUSTED: "POOL_EXHAUSTED",
  NOT_LEADER: "NOT_LEADER",
  TIMEOUT: "TIMEOUT",
  UNAVAILABLE: "UNAVAILABLE",
  SHUTTING_DOWN: "SHUTTING_DOWN",
  CANCELLED: "UNAVAILABLE",
  RESOURCE_EXHAUSTED: "PROTOCOL_ERROR",
  PERMISSION_DENIED: "PERMISSION_DENIED",
  UNAUTHENTICATED: "PERMISSION_DENIED",
  UNIMPLEMENTED: "PROTOCOL_ERROR",
  DATA_LOSS: "INTERNAL",
  INTERNAL: "INTERNAL",
  UNKNOWN: "INTERNAL",
};

function systemCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && /^E[A-Z]+$/.test(code)) return code;
    current = current.cause;
  }
  return undefined;
}

/**
 * Translate a lean-client failure into a CniError with a project-wide code. Socket errors get a
 * message an operator can act on (`ENOENT`: ipamd not running; `EACCES`: permissions).
 */
export function fromGrpcError(error: unknown, socketPath: string, method: string): CniError {
  if (!(error instanceof GrpcError)) {
    return new CniError(
      "INTERNAL",
      `${method}: ${error instanceof Error ? error.message : String(error)}`,
      {
        cause: error,
      },
    );
  }
  const details = { ipamdCode: error.code, ...(error.details ?? {}) };
  const sys = systemCode(error.cause);
  if (sys === "ENOENT" || sys === "ECONNREFUSED") {
    return new CniError(
      "UNAVAILABLE",
      `ipamd is not listening on ${socketPath} (${sys}); is ipamd running?`,
      { cause: error, details: { ...details, socketPath } },
    );
  }
  if (sys === "EACCES" || sys === "EPERM") {
    return new CniError(
      "PERMISSION_DENIED",
      `no permission to connect to ${socketPath} (${sys}); run the plugin as root or a member of the socket's group`,
      { cause: error, details: { ...details, socketPath } },
    );
  }
  // The purpose comes from the network configuration: fix the config (CNI 7), not a retry.
  const mapped: CniErrorCode =
    error.kind === "INVALID_ARGUMENT" && error.details?.field === "purpose"
      ? "INVALID_CONFIG"
      : KIND_TO_CNI_CODE[error.kind];
  return new CniError(mapped, `ipamd ${method}: ${error.message}`, { cause: error, details });
}

function familySelection(families: readonly IpFamily[]): FamilySelection {
  const v4 = families.includes("ipv4");
  const v6 = families.includes("ipv6");
  if (v4 && v6) return FamilySelection.DUAL_STACK;
  return v6 ? FamilySelection.IPV6 : FamilySelection.IPV4;
}

function toAddress(a: AllocatedAddress): BackendAddress {
  const family: IpFamily =
    a.family === Family.IPV6 || (a.family !== Family.IPV4 && a.address.includes(":"))
      ? "ipv6"
      : "ipv4";
  return {
    family,
    address: a.address,
    prefixLength: a.prefixLength,
    ...(a.gateway === "" ? {} : { gateway: a.gateway }),
  };
}

const STATES: Readonly<Record<number, BackendState>> = {
  [ReadyState.READY]: "ready",
  [ReadyState.EXHAUSTED]: "exhausted",
  [ReadyState.UNAVAILABLE]: "unavailable",
};

/**
 * The default {@link IpamBackend}: ipamd's `ipam.v1.Ipam` service over its unix socket through
 * the lean client of @ipam/grpc-client (its own HTTP/2 on libuv's pipe handle, no @grpc/grpc-js,
 * no node:net). One attempt per call with the configured deadline; failures become CniErrors via {@link fromGrpcError}. No
 * connection is made before the first call.
 */
export function createGrpcBackend(options: GrpcBackendOptions): IpamBackend {
  const client: LeanIpamClient = createLeanIpamClient({
    socketPath: options.socketPath,
    deadlineMs: options.timeoutMs,
  });
  const call = async <T>(method: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      throw fromGrpcError(error, options.socketPath, method);
    }
  };
  return {
    allocate: (input: AllocateInput): Promise<AllocateOutput> =>
      call("Allocate", async () => {
        const answer = await client.allocate({
          network: input.network,
          containerId: input.containerId,
          ifname: input.ifname,
          purpose: input.purpose,
          families: familySelection(input.families),
          podNamespace: input.podNamespace ?? "",
          podName: input.podName ?? "",
          podUid: input.podUid ?? "",
          requestedAddresses: [...input.requestedAddresses],
        });
        const dns = answer.dns;
        return {
          addresses: answer.addresses.map(toAddress),
          routes: answer.routes.map((r) => ({
            dst: r.destination,
            ...(r.gateway === "" ? {} : { gw: r.gateway }),
          })),
          ...(dns === undefined
            ? {}
            : {
                dns: {
                  nameservers: dns.nameservers,
                  ...(dns.domain === "" ? {} : { domain: dns.domain }),
                  search: dns.search,
                  options: dns.options,
                },
              }),
        };
      }),
    release: (key: AttachmentKey) =>
      call("Release", async () => {
        const answer = await client.release({ ...key });
        return { released: answer.released };
      }),
    check: (key: AttachmentKey, addresses: readonly string[]): Promise<CheckOutput> =>
      call("Check", async () => {
        const answer = await client.check({ ...key, addresses: [...addresses] });
        return { ok: answer.ok, reason: answer.reason, held: answer.addresses.map(toAddress) };
      }),
    gc: (network, valid) =>
      call("GarbageCollect", async () => {
        const answer = await client.garbageCollect({
          network,
          validAttachments: valid.map((v) => ({ containerId: v.containerId, ifname: v.ifname })),
        });
        return {
          released: answer.released.map((k) => ({
            network: k.network,
            containerId: k.containerId,
            ifname: k.ifname,
          })),
        };
      }),
    status: (network: string, purpose: string, families: readonly IpFamily[]) =>
      call("Status", async () => {
        const answer = await client.status({
          network,
          purpose,
          families: familySelection(families),
        });
        const state = STATES[answer.state];
        if (state === undefined) {
          throw new CniError("PROTOCOL_ERROR", `ipamd Status: unknown state ${answer.state}`);
        }
        return { state, reason: answer.reason };
      }),
    close: () => client.close(),
  };
}
