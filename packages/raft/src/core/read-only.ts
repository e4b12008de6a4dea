import type { NodeId } from "../types.js";
import { hasQuorum } from "./quorum.js";

/** One ReadIndex request waiting for a quorum of heartbeat acknowledgements. */
export interface ReadIndexRequest {
  /** Commit index of the leader when the request arrived: the read point. */
  readonly index: number;
  readonly context: Uint8Array;
  /** Who asked: the leader itself or a follower that forwarded the request. */
  readonly from: NodeId;
  readonly acks: Set<NodeId>;
}

/** Stable string key of a read context (contexts are compared by content). */
export function contextKey(context: Uint8Array): string {
  let s = "";
  for (const b of context) s += b.toString(16).padStart(2, "0");
  return s;
}

/**
 * Pending ReadIndex requests of a leader (dissertation §6.4, etcd's "safe" read-only mode). A
 * request is confirmed when a majority of voters acknowledge a heartbeat sent after it arrived;
 * confirming a request also confirms every earlier one (FIFO).
 */
export class ReadOnly {
  private readonly queue: ReadIndexRequest[] = [];
  private readonly byKey = new Map<string, ReadIndexRequest>();

  /** Queue a request (a duplicate context is ignored). Returns false for a duplicate. */
  add(index: number, context: Uint8Array, from: NodeId, self: NodeId): boolean {
    const key = contextKey(context);
    if (this.byKey.has(key)) return false;
    const req: ReadIndexRequest = { index, context, from, acks: new Set([self]) };
    this.queue.push(req);
    this.byKey.set(key, req);
    return true;
  }

  /** The context of the newest pending request (what a heartbeat should carry), if any. */
  lastContext(): Uint8Array | undefined {
    return this.queue[this.queue.length - 1]?.context;
  }

  /**
   * Record `from`'s acknowledgement of the heartbeat carrying `context`. Returns the requests
   * that are now confirmed (in arrival order), removing them.
   */
  ack(context: Uint8Array, from: NodeId, voters: readonly NodeId[]): ReadIndexRequest[] {
    if (context.length === 0) return [];
    const req = this.byKey.get(contextKey(context));
    if (req === undefined) return [];
    req.acks.add(from);
    if (!hasQuorum(voters, req.acks)) return [];
    const at = this.queue.indexOf(req);
    const done = this.queue.splice(0, at + 1);
    for (const r of done) this.byKey.delete(contextKey(r.context));
    return done;
  }

  get pending(): number {
    return this.queue.length;
  }

  reset(): void {
    this.queue.length = 0;
    this.byKey.clear();
  }
}
