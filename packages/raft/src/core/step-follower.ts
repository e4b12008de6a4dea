import type { AppendMessage, Message, SnapshotMessage } from "../types.js";
import type { Raft } from "./raft.js";

/** Follower's handling of a message (after the common checks in `Raft.step`). */
export function stepFollower(r: Raft, m: Message): void {
  switch (m.type) {
    case "append":
      r.electionElapsed = 0;
      r.leader = m.from;
      r.noteLeaderCommit(m.commit);
      onAppend(r, m);
      break;
    case "heartbeat":
      r.electionElapsed = 0;
      r.leader = m.from;
      r.noteLeaderCommit(m.commit);
      r.log.commitTo(Math.min(m.commit, r.log.lastIndex()));
      r.send({
        type: "heartbeat-response",
        from: r.id,
        to: m.from,
        term: r.term,
        context: m.context,
      });
      break;
    case "snapshot":
      r.electionElapsed = 0;
      r.leader = m.from;
      onSnapshot(r, m);
      break;
    case "timeout-now":
      // Dissertation §3.10: the leader asks us to campaign immediately (skipping pre-vote).
      r.hup(true);
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
    case "read-index-response":
      if (!m.reject) {
        r.noteLeaderCommit(m.index);
        r.readStates.push({ index: m.index, context: m.context });
      }
      break;
    default:
      break;
  }
}

/** AppendEntries receiver implementation (Figure 2). */
function onAppend(r: Raft, m: AppendMessage): void {
  const respond = (index: number, reject: boolean, hint?: { index: number; term: number }) =>
    r.send({
      type: "append-response",
      from: r.id,
      to: m.from,
      term: r.term,
      index,
      reject,
      ...(hint === undefined ? {} : { rejectHint: hint }),
    });
  if (m.prevIndex < r.log.committed) {
    respond(r.log.committed, false);
    return;
  }
  const result = r.log.maybeAppend(m.prevIndex, m.prevTerm, m.commit, m.entries);
  if (result === undefined) {
    respond(m.prevIndex, true, r.log.findConflictByTerm(m.prevIndex, m.prevTerm));
    return;
  }
  if (result.conflict !== 0) r.onEntriesReplaced(result.conflict, m.entries);
  respond(result.lastNew, false);
}

/** InstallSnapshot receiver (Figure 13), chunk by chunk. */
function onSnapshot(r: Raft, m: SnapshotMessage): void {
  const respond = (offset: number, done: boolean) =>
    r.send({
      type: "snapshot-response",
      from: r.id,
      to: m.from,
      term: r.term,
      index: m.meta.index,
      offset,
      reject: false,
      done,
    });
  if (m.meta.index <= r.log.committed) {
    // We already have everything the snapshot covers.
    respond(m.total, true);
    return;
  }
  let recv = r.snapRecv;
  if (
    recv === undefined ||
    recv.index !== m.meta.index ||
    recv.term !== m.meta.term ||
    recv.total !== m.total
  ) {
    if (m.offset !== 0) {
      respond(0, false);
      return;
    }
    recv = { index: m.meta.index, term: m.meta.term, total: m.total, chunks: [], received: 0 };
    r.snapRecv = recv;
  }
  if (m.offset !== recv.received) {
    respond(recv.received, false);
    return;
  }
  if (m.data.length > 0) recv.chunks.push(m.data.slice());
  recv.received += m.data.length;
  if (!m.done || recv.received !== recv.total) {
    respond(recv.received, false);
    return;
  }
  r.snapRecv = undefined;
  const data = new Uint8Array(recv.total);
  let at = 0;
  for (const c of recv.chunks) {
    data.set(c, at);
    at += c.length;
  }
  restore(r, { meta: m.meta, data });
  respond(recv.total, true);
}

function restore(r: Raft, snapshot: { meta: SnapshotMessage["meta"]; data: Uint8Array }): void {
  const { index, term } = snapshot.meta;
  if (r.log.matchTerm(index, term)) {
    // §7: the log already contains the snapshot's last entry: keep the log, commit up to it.
    r.log.commitTo(index);
    return;
  }
  r.log.restore(snapshot);
  r.baseConf = snapshot.meta.conf;
  r.baseConfIndex = index;
  r.confStack = [];
  r.setConf(snapshot.meta.conf);
}
