import type {
  AppendResponseMessage,
  HeartbeatResponseMessage,
  Message,
  SnapshotResponseMessage,
} from "../types.js";
import type { Raft } from "./raft.js";

/** Leader's handling of a message of its own term (after the common checks in `Raft.step`). */
export function stepLeader(r: Raft, m: Message): void {
  switch (m.type) {
    case "append-response":
      onAppendResponse(r, m);
      break;
    case "heartbeat-response":
      onHeartbeatResponse(r, m);
      break;
    case "snapshot-response":
      onSnapshotResponse(r, m);
      break;
    case "read-index":
      r.handleReadIndex(m.context, m.from);
      break;
    default:
      // Another leader in our term cannot exist (§5.2); other messages are stale.
      break;
  }
}

function onAppendResponse(r: Raft, m: AppendResponseMessage): void {
  const pr = r.progress.get(m.from);
  if (pr === undefined) return;
  pr.recentActive = true;
  if (m.reject) {
    // Fast backtracking (§5.3, "the leader can decrement nextIndex to bypass all of the
    // conflicting entries in that term"): use the follower's hint to skip whole terms.
    let hint = m.index;
    if (m.rejectHint !== undefined) {
      hint =
        m.rejectHint.term > 0
          ? r.log.findConflictByTerm(m.rejectHint.index, m.rejectHint.term).index
          : m.rejectHint.index;
    }
    if (pr.maybeDecrTo(m.index, hint)) {
      if (pr.state === "replicate") pr.becomeProbe();
      r.sendAppend(m.from, true);
    }
    return;
  }
  if (!pr.maybeUpdate(m.index)) return;
  pr.lastProgressTick = r.ticks;
  if (pr.state === "probe") pr.becomeReplicate();
  else if (pr.state === "replicate") pr.inflights.freeLE(m.index);
  r.maybeCommit();
  r.sendAppendLoop(m.from);
  if (m.from === r.leadTransferee && pr.match === r.log.lastIndex()) r.sendTimeoutNow(m.from);
}

function onHeartbeatResponse(r: Raft, m: HeartbeatResponseMessage): void {
  const pr = r.progress.get(m.from);
  if (pr === undefined) return;
  pr.recentActive = true;
  pr.probeSent = false;
  const stalled = r.ticks - pr.lastProgressTick >= r.retransmitTicks;
  if (pr.state === "snapshot") {
    // No answer to the chunk in flight for a while: it was probably lost; resend it.
    if (stalled) r.sendSnapshotChunk(m.from, pr);
  } else if (pr.state === "replicate") {
    if (pr.inflights.count > 0) {
      // Appends in flight and no acknowledgement for a while: assume they were lost. (With
      // traffic, a gap is noticed sooner: the next append is rejected.)
      if (stalled) {
        pr.becomeProbe();
        r.sendAppend(m.from, true);
      }
    } else if (pr.match < r.log.lastIndex()) {
      r.sendAppendLoop(m.from);
    }
  } else {
    r.sendAppend(m.from, true);
  }
  for (const req of r.readOnly.ack(m.context, m.from, r.conf.voters)) {
    r.respondRead(req.index, req.context, req.from);
  }
}

function onSnapshotResponse(r: Raft, m: SnapshotResponseMessage): void {
  const pr = r.progress.get(m.from);
  if (pr === undefined) return;
  pr.recentActive = true;
  if (pr.state !== "snapshot" || pr.snapshot === undefined || pr.snapshot.meta.index !== m.index) {
    return;
  }
  if (m.reject || m.done) {
    // Done: the follower holds the snapshot; probe right after it. Reject: start over by probing.
    pr.becomeProbe();
    r.sendAppend(m.from, true);
    return;
  }
  pr.snapshotOffset = m.offset;
  r.sendSnapshotChunk(m.from, pr);
}
