import { describe, expect, it } from "vitest";
import { entriesWithTerms } from "../../test/harness.js";
import { SimDisk } from "./sim-disk.js";

describe("SimDisk", () => {
  it("a crash keeps synced writes and only a prefix of unsynced ones", () => {
    const d = new SimDisk();
    d.append(entriesWithTerms([1, 1]));
    d.setHardState({ term: 1, vote: "a", commit: 2 });
    d.sync();
    d.append(entriesWithTerms([2], 3));
    d.setHardState({ term: 2, vote: "b", commit: 3 });
    expect(d.lastIndex()).toBe(3); // visible before sync
    d.crash(1); // the append reached the disk, the hard state did not
    expect(d.lastIndex()).toBe(3);
    expect(d.initialState().hardState).toEqual({ term: 1, vote: "a", commit: 2 });
    d.append(entriesWithTerms([3], 4));
    d.crash(0);
    expect(d.lastIndex()).toBe(3);
  });
});
