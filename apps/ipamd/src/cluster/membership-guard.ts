import type { NotMemberRefusal, PeerRefusal } from "@ipam/grpc-server/raft";
import type { ConfState, Message, MessageType, RaftNodeStatus } from "@ipam/raft";

/**
 * Messages a leader sends to its followers. They are taken from any sender: a new leader may be
 * a member this server has not heard of yet (its configuration lags), and refusing it would
 * keep this server from ever catching up.
 */
const FROM_LEADER: ReadonlySet<MessageType> = new Set<MessageType>([
  "append",
  "heartbeat",
  "snapshot",
  "timeout-now",
]);

function isMember(conf: ConfState, id: string): boolean {
  return conf.voters.includes(id) || conf.learners.includes(id);
}

/** Options of {@link MembershipGuard}. */
export interface MembershipGuardOptions {
  readonly nodeId: string;
  readonly clusterId: string;
  /** This server's Raft status (read on cache misses and by {@link MembershipGuard.watch}). */
  readonly status: () => RaftNodeStatus;
  /** Called once, when this server learns it is not a member any more (`why` says how). */
  readonly onRemoved: (why: string) => void;
  /** Told about refusals that were ignored as stale (debug). */
  readonly onStaleRefusal?: (refusal: PeerRefusal, ownIndex: number) => void;
}

/**
 * Who may talk Raft to this server, and whether this server is still a member.
 *
 * - {@link checkSender} (the transport's hook): a batch from a server that is not in this
 *   server's committed configuration is refused when it holds anything but a leader's messages
 *   (pre-votes, votes and ReadIndex requests of a removed server would disrupt the group; its
 *   answers are stale). The refusal names the configuration's index.
 * - {@link onRefused}: a peer refused this server. When the peer's configuration is newer than
 *   this server's, this server was removed; an older one is a peer that has not caught up with
 *   this server's addition (ignored).
 * - {@link watch} (called periodically): this server applied a committed configuration without
 *   itself after having been a member (a leader that removed itself, or a removal that reached
 *   it).
 *
 * `onRemoved` is called at most once. Membership is cached (refreshed on a miss and by `watch`),
 * so `checkSender` costs a set lookup for members.
 */
export class MembershipGuard {
  readonly #o: MembershipGuardOptions;
  #members = new Set<string>();
  #wasMember = false;
  #removed = false;

  constructor(options: MembershipGuardOptions) {
    this.#o = options;
  }

  /** True once {@link MembershipGuardOptions.onRemoved} was called. */
  get removed(): boolean {
    return this.#removed;
  }

  #refresh(): RaftNodeStatus {
    const st = this.#o.status();
    this.#members = new Set([...st.members.voters, ...st.members.learners]);
    if (isMember(st.members, this.#o.nodeId)) this.#wasMember = true;
    return st;
  }

  #remove(why: string): void {
    if (this.#removed) return;
    this.#removed = true;
    this.#o.onRemoved(why);
  }

  /** The transport's `checkSender`: undefined admits the batch. */
  checkSender(from: string, messages: readonly Message[]): NotMemberRefusal | undefined {
    if (this.#members.has(from)) return undefined;
    if (messages.every((m) => FROM_LEADER.has(m.type))) return undefined;
    const st = this.#refresh();
    if (this.#members.has(from)) return undefined;
    // Only a committed configuration that lists this server speaks for the group.
    if (!isMember(st.members, this.#o.nodeId) || st.membersIndex > st.commit) return undefined;
    const { voters, learners } = st.members;
    return {
      configIndex: st.membersIndex,
      reason:
        `${from} is not a member of cluster ${this.#o.clusterId} (configuration at index ` +
        `${st.membersIndex}: voters ${voters.join(",") || "none"}` +
        `${learners.length > 0 ? `, learners ${learners.join(",")}` : ""})`,
    };
  }

  /** The transport's `onRefused`. */
  onRefused(refusal: PeerRefusal): void {
    const st = this.#refresh();
    if (st.membersIndex >= refusal.configIndex) {
      this.#o.onStaleRefusal?.(refusal, st.membersIndex);
      return;
    }
    this.#remove(`${refusal.peer} refused it: ${refusal.reason}`);
  }

  /** Checks whether this server applied its own removal; call periodically. */
  watch(): void {
    const st = this.#refresh();
    if (
      this.#wasMember &&
      !isMember(st.members, this.#o.nodeId) &&
      st.membersIndex <= st.commit &&
      st.membersIndex > 0
    ) {
      this.#remove(`the configuration at index ${st.membersIndex} does not list it`);
    }
  }
}
