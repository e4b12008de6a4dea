import type { ConfChange, ConfState, NodeId } from "../types.js";
import { RaftError } from "./raft-error.js";

/** The empty configuration (a node that joins and waits to learn the cluster). */
export const EMPTY_CONF: ConfState = { voters: [], learners: [] };

/** What a `config` entry carries: the change and the whole configuration it results in. */
export interface ConfChangeRecord {
  readonly change: ConfChange;
  readonly conf: ConfState;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Encode a config entry's data. The resulting configuration travels in full so that a node
 * replaying the log from any point (a joiner, or after a snapshot) knows the whole membership.
 */
export function encodeConfChangeEntry(record: ConfChangeRecord): Uint8Array {
  return encoder.encode(JSON.stringify(record));
}

/** Decode the data of a `config` entry. Throws `RaftError` `CORRUPT` on malformed data. */
export function decodeConfChangeEntry(data: Uint8Array): ConfChangeRecord {
  try {
    const parsed = JSON.parse(decoder.decode(data)) as ConfChangeRecord;
    if (!Array.isArray(parsed.conf?.voters) || !Array.isArray(parsed.conf?.learners)) {
      throw new TypeError("missing conf.voters or conf.learners");
    }
    return parsed;
  } catch (cause) {
    throw new RaftError("CORRUPT", "config entry: malformed data", { cause });
  }
}

/** True when `id` is a voter of `conf`. */
export function isVoter(conf: ConfState, id: NodeId): boolean {
  return conf.voters.includes(id);
}

/** True when `id` is a voter or a learner of `conf`. */
export function isMember(conf: ConfState, id: NodeId): boolean {
  return conf.voters.includes(id) || conf.learners.includes(id);
}

function sorted(ids: readonly NodeId[]): NodeId[] {
  return [...ids].sort();
}

/**
 * The configuration that results from applying `change` to `conf` (pure; `conf` is not changed).
 * Throws `RaftError` `INVALID_ARGUMENT` (naming the node) when the change is not applicable:
 * adding an existing member, promoting a non-learner, removing a non-member or the last voter.
 */
export function applyConfChange(conf: ConfState, change: ConfChange): ConfState {
  const { node } = change;
  if (typeof node !== "string" || node.length === 0) {
    throw new RaftError("INVALID_ARGUMENT", "change.node: must be a non-empty string");
  }
  let voters = conf.voters;
  let learners = conf.learners;
  switch (change.type) {
    case "add-voter":
    case "add-learner":
      if (isMember(conf, node)) {
        throw new RaftError("INVALID_ARGUMENT", `change.node: ${node} is already a member`, {
          details: {
            node,
          },
        });
      }
      if (change.type === "add-voter") voters = sorted([...voters, node]);
      else learners = sorted([...learners, node]);
      break;
    case "promote":
      if (!conf.learners.includes(node)) {
        throw new RaftError("INVALID_ARGUMENT", `change.node: ${node} is not a learner`, {
          details: { node },
        });
      }
      learners = learners.filter((id) => id !== node);
      voters = sorted([...voters, node]);
      break;
    case "remove":
      if (!isMember(conf, node)) {
        throw new RaftError("INVALID_ARGUMENT", `change.node: ${node} is not a member`, {
          details: { node },
        });
      }
      if (conf.voters.length === 1 && conf.voters[0] === node) {
        throw new RaftError("INVALID_ARGUMENT", `change.node: ${node} is the last voter`, {
          details: {
            node,
          },
        });
      }
      voters = voters.filter((id) => id !== node);
      learners = learners.filter((id) => id !== node);
      break;
    default:
      throw new RaftError("INVALID_ARGUMENT", "change.type: unknown change type");
  }
  const addresses: Record<NodeId, string> = { ...(conf.addresses ?? {}) };
  if (change.type === "remove") delete addresses[node];
  else if (change.address !== undefined) addresses[node] = change.address;
  const next: ConfState = { voters, learners };
  return Object.keys(addresses).length > 0 ? { ...next, addresses } : next;
}
