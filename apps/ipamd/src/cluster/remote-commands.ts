import { randomUUID } from "node:crypto";
import {
  type CallOptions,
  type ClusterClient,
  parseDetailsJson,
  type AllocatedAddress as WireAddress,
  type Block as WireBlock,
  Family as WireFamily,
} from "@ipam/grpc-server";
import type {
  AllocateDirectCommand,
  BlockLease,
  ClusterCommand,
  CommandResult,
  DirectAllocateValue,
  DirectAllocation,
} from "@ipam/subnet-pool";
import type { Family } from "@ipam/topology";
import { IpamdError } from "../ipamd-error.js";
import { toIpamdCode } from "./cluster-errors.js";

// The commands an agent sends, as Cluster API calls: each ClusterCommand an agent may run
// becomes the RPC that carries it, and the answer the command's value.

/** What {@link runRemoteCommand} calls through (RemoteCluster: with its retries). */
export interface RemoteCalls {
  /** Runs one RPC on some server, with retries; rejects with an IpamdError. */
  call<T>(
    what: string,
    fn: (client: ClusterClient, options: CallOptions) => Promise<T>,
  ): Promise<T>;
  /** A wire block as a BlockLease with its subnet's definition. */
  lease(block: WireBlock): Promise<BlockLease>;
}

function familyOf(wire: WireFamily, address: string): Family {
  if (wire === WireFamily.IPV4) return 4;
  if (wire === WireFamily.IPV6) return 6;
  return address.includes(":") ? 6 : 4;
}

function wireFamily(family: Family | undefined): WireFamily {
  return family === 4 ? WireFamily.IPV4 : family === 6 ? WireFamily.IPV6 : WireFamily.UNSPECIFIED;
}

/**
 * Runs `command` as the Cluster API call that carries it and resolves with the command's value
 * (as the state machine would answer it). Only what agents send: register-node, lease-block
 * (with a fresh request id, reused by retries), release-block, allocate/release-direct and
 * batches of only one of those two; anything else is INVALID_ARGUMENT.
 */
export async function runRemoteCommand(
  remote: RemoteCalls,
  command: ClusterCommand,
): Promise<unknown> {
  switch (command.type) {
    case "register-node": {
      await remote.call("RegisterNode", (c, o) =>
        c.registerNode(
          { nodeId: command.node, torId: command.tor, labels: { ...(command.labels ?? {}) } },
          o,
        ),
      );
      return {
        id: command.node,
        name: command.name ?? command.node,
        tor: command.tor,
        labels: command.labels ?? {},
      };
    }
    case "lease-block": {
      const requestId = randomUUID();
      const r = await remote.call("LeaseBlock", (c, o) =>
        c.leaseBlock(
          {
            nodeId: command.node,
            purpose: command.purpose ?? "",
            family: wireFamily(command.family),
            subnetId: command.subnet ?? "",
            requestId,
            address: command.address ?? "",
          },
          o,
        ),
      );
      if (r.block === undefined) throw new IpamdError("INTERNAL", "LeaseBlock: no block");
      return remote.lease(r.block);
    }
    case "release-block": {
      await remote.call("ReleaseBlock", (c, o) =>
        c.releaseBlock({ nodeId: command.node, cidr: command.cidr }, o),
      );
      return { node: command.node, cidr: command.cidr };
    }
    case "claim-block": {
      const r = await remote.call("ClaimBlock", (c, o) =>
        c.claimBlock({ nodeId: command.node, cidr: command.cidr }, o),
      );
      if (r.block === undefined) throw new IpamdError("INTERNAL", "ClaimBlock: no block");
      return remote.lease(r.block);
    }
    case "allocate-direct": {
      const [one] = await allocateDirect(remote, [command]);
      if (one === undefined || !one.ok) {
        throw new IpamdError(
          toIpamdCode(one?.ok === false ? one.error.code : "INTERNAL"),
          one?.ok === false ? one.error.message : "AllocateDirect: no result",
        );
      }
      return one.value;
    }
    case "release-direct": {
      const [one] = await releaseDirect(remote, [command.key]);
      return one ?? [];
    }
    case "batch": {
      const cmds = command.commands;
      if (cmds.every((c) => c.type === "allocate-direct")) {
        return allocateDirect(remote, cmds as AllocateDirectCommand[]);
      }
      if (cmds.every((c) => c.type === "release-direct")) {
        const released = await releaseDirect(
          remote,
          cmds.map((c) => (c as { key: DirectAllocation["key"] }).key),
        );
        return released.map((value) => ({ ok: true, value }));
      }
      throw new IpamdError(
        "INVALID_ARGUMENT",
        "batch.commands: an agent batches only allocate-direct or only release-direct",
      );
    }
    default:
      throw new IpamdError(
        "INVALID_ARGUMENT",
        `command ${command.type}: not available to agents (use the Cluster API)`,
      );
  }
}

async function allocateDirect(
  remote: RemoteCalls,
  commands: readonly AllocateDirectCommand[],
): Promise<CommandResult[]> {
  const r = await remote.call("AllocateDirect", (c, o) =>
    c.allocateDirect(
      {
        items: commands.map((cmd) => ({
          network: cmd.key.network,
          containerId: cmd.key.containerId,
          ifname: cmd.key.ifname,
          nodeId: cmd.node,
          purpose: cmd.purpose,
          family: wireFamily(cmd.family),
          requestedAddress: cmd.address ?? "",
        })),
      },
      o,
    ),
  );
  return commands.map((cmd, i): CommandResult => {
    const res = r.results[i]?.result;
    if (res?.case === "address") {
      const value: DirectAllocateValue = {
        ...directOf(res.value, cmd.key, cmd.node),
        allocatedAt: cmd.at,
        existing: false,
      };
      return { ok: true, value };
    }
    return {
      ok: false,
      error: {
        code: (res?.case === "error" ? res.value.code : "INTERNAL") as never,
        message: res?.case === "error" ? res.value.message : "AllocateDirect: missing result",
        details: res?.case === "error" ? parseDetailsJson(res.value.detailsJson) : {},
      },
    };
  });
}

async function releaseDirect(
  remote: RemoteCalls,
  keys: readonly DirectAllocation["key"][],
): Promise<DirectAllocation[][]> {
  const r = await remote.call("ReleaseDirect", (c, o) =>
    c.releaseDirect({ keys: keys.map((k) => ({ ...k })) }, o),
  );
  return keys.map((key, i) =>
    (r.results[i]?.addresses ?? []).map((address) => directOf({ address } as WireAddress, key, "")),
  );
}

/**
 * A DirectAllocation from its wire address. Remote releases only tell the address: the other
 * fields are then empty.
 */
export function directOf(
  a: WireAddress | undefined,
  key: DirectAllocation["key"],
  node: string,
): DirectAllocation {
  const address = a?.address ?? "";
  return {
    key,
    family: familyOf(a?.family ?? WireFamily.UNSPECIFIED, address),
    node,
    purpose: a?.purpose ?? "",
    subnet: a?.subnetId ?? "",
    address,
    prefixLength: a?.prefixLength ?? 0,
    gateway: a === undefined || a.gateway === "" ? null : a.gateway,
    allocatedAt: 0,
  };
}
