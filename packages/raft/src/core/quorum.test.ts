import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { committedIndex, hasQuorum, quorumSize, voteResult } from "./quorum.js";

describe("quorum", () => {
  it("committedIndex is the largest index stored on a majority (§5.3)", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(1000), { minLength: 1, maxLength: 9 }), (matches) => {
        const voters = matches.map((_, i) => `n${i}`);
        const ci = committedIndex(voters, (id) => matches[Number(id.slice(1))] ?? 0);
        const atLeast = (x: number) => matches.filter((m) => m >= x).length;
        expect(atLeast(ci)).toBeGreaterThanOrEqual(quorumSize(voters.length));
        expect(atLeast(ci + 1)).toBeLessThan(quorumSize(voters.length));
      }),
    );
  });

  it("an election is won by a majority and lost once a majority is out of reach (§5.2)", () => {
    const voters = ["a", "b", "c", "d", "e"];
    const votes = new Map<string, boolean>([
      ["a", true],
      ["b", true],
    ]);
    expect(voteResult(voters, votes)).toBe("pending");
    votes.set("c", true);
    expect(voteResult(voters, votes)).toBe("won");
    const lost = new Map<string, boolean>([
      ["a", true],
      ["b", false],
      ["c", false],
      ["d", false],
    ]);
    expect(voteResult(voters, lost)).toBe("lost");
    // Votes of non-voters do not count.
    expect(
      voteResult(
        ["a", "b", "c"],
        new Map([
          ["x", true],
          ["a", true],
        ]),
      ),
    ).toBe("pending");
  });

  it("hasQuorum counts only voters; an empty voter set never has a quorum", () => {
    expect(hasQuorum(["a", "b", "c"], new Set(["a", "x", "y"]))).toBe(false);
    expect(hasQuorum(["a", "b", "c"], new Set(["a", "c"]))).toBe(true);
    expect(hasQuorum([], new Set(["a"]))).toBe(false);
  });
});
