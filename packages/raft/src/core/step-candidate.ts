import type { Message } from "../types.js";
import type { Raft } from "./raft.js";
import { stepFollower } from "./step-follower.js";

/** (Pre-)candidate's handling of a message (after the common checks in `Raft.step`). */
export function stepCandidate(r: Raft, m: Message): void {
  switch (m.type) {
    case "append":
    case "heartbeat":
    case "snapshot":
      // §5.2: a leader of our term exists; return to follower and handle its message.
      r.becomeFollower(m.term, m.from);
      stepFollower(r, m);
      break;
    case "vote-response":
      if (r.role !== "candidate" || m.term !== r.term) return;
      if (!r.votes.has(m.from)) r.votes.set(m.from, !m.reject);
      r.tally();
      break;
    case "prevote-response":
      if (r.role !== "pre-candidate" || (!m.reject && m.term !== r.term + 1)) return;
      if (!r.votes.has(m.from)) r.votes.set(m.from, !m.reject);
      r.tally();
      break;
    case "read-index":
      r.send({
        type: "read-index-response",
        from: r.id,
        to: m.from,
        term: r.term,
        index: 0,
        context: m.context,
        reject: true,
      });
      break;
    default:
      break;
  }
}
