import type { NodeId } from "../types.js";

/** Size of a majority of `n` voters. */
export function quorumSize(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * The largest index replicated on a majority of `voters` (§5.3): the quorum-th highest match.
 * Returns 0 for an empty voter set. `matchOf` returns 0 for unknown voters.
 */
export function committedIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  if (voters.length === 0) return 0;
  const matches = voters.map(matchOf).sort((a, b) => b - a);
  return matches[quorumSize(voters.length) - 1] ?? 0;
}

/** Outcome of an election tally. */
export type VoteResult = "won" | "lost" | "pending";

/**
 * Tally `votes` (true = granted) among `voters` (§5.2): won with a majority of grants, lost once a
 * majority can no longer be reached. Votes from non-voters are ignored.
 */
export function voteResult(
  voters: readonly NodeId[],
  votes: ReadonlyMap<NodeId, boolean>,
): VoteResult {
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === true) granted++;
    else if (v === false) rejected++;
  }
  const q = quorumSize(voters.length);
  if (voters.length > 0 && granted >= q) return "won";
  if (voters.length - rejected < q) return "lost";
  return "pending";
}

/** True when the ids in `acks` include a majority of `voters`. */
export function hasQuorum(voters: readonly NodeId[], acks: ReadonlySet<NodeId>): boolean {
  if (voters.length === 0) return false;
  let n = 0;
  for (const id of voters) if (acks.has(id)) n++;
  return n >= quorumSize(voters.length);
}
