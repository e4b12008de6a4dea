import { describe, expect, it } from "vitest";
import { entriesWithTerms } from "../../test/harness.js";
import { SafetyChecker } from "./safety-checker.js";

describe("SafetyChecker", () => {
  it("flags two different entries applied at the same index (state machine safety)", () => {
    const c = new SafetyChecker(() => {});
    const [a] = entriesWithTerms([1]);
    const [b] = entriesWithTerms([2]);
    c.onApply("n1", a!);
    c.onApply("n2", a!);
    expect(c.violations).toEqual([]);
    c.onApply("n3", b!);
    expect(c.violations[0]).toContain("state machine safety");
  });

  it("flags same index and term with different content or history (log matching)", () => {
    const c = new SafetyChecker(() => {});
    const e = { index: 2, term: 3, type: "normal" as const, data: new Uint8Array([1]) };
    c.onPersist("n1", [e], () => 1);
    c.onPersist("n2", [e], () => 1);
    expect(c.violations).toEqual([]);
    c.onPersist("n3", [e], () => 2);
    expect(c.violations[0]).toContain("log matching");
    c.onPersist("n4", [{ ...e, data: new Uint8Array([9]) }], () => 1);
    expect(c.violations[1]).toContain("different entry");
  });
});
