import { describe, expect, it } from "vitest";
import { recordFor } from "../test/helpers/records.js";
import type { ItemOutcome } from "./commit-batch.js";
import type { WriteOp } from "./write-op.js";
import { compactOutcomes, decodeOps, encodeOps, expandOutcomes } from "./write-op-wire.js";

const ops: WriteOp[] = [
  { kind: "save", record: recordFor(1) },
  {
    kind: "save",
    record: recordFor(2, {
      addresses: ["10.0.0.2", "fd00::2"],
      subnets: ["10.0.0.0/24", "fd00::/64"],
      subnet: "s",
      podNamespace: "ns",
      podName: "p",
    }),
  },
  {
    kind: "delete",
    key: { network: "default", containerId: "c1", ifname: "eth0" },
    cooling: [{ address: "10.0.0.1", until: 5 }],
  },
  { kind: "retain", network: "default", keep: ["c2\u0000eth0"] },
];

describe("the commit thread's wire form of a batch", () => {
  it("gives back the same ops, optional fields absent where they were, after a structured clone", () => {
    const back = decodeOps(structuredClone(encodeOps(ops)));
    expect(back).toEqual(ops);
    expect(Object.keys((back[0] as { record: object }).record)).toEqual(Object.keys(recordFor(1)));
  });

  it("sends a created save back as true and restores its record; everything else as is", () => {
    const items: ItemOutcome[] = [
      { ok: true, value: { record: recordFor(1), created: true } },
      { ok: true, value: { record: recordFor(9), created: false } },
      { ok: true, value: recordFor(1) },
      { ok: false, error: { code: "CONFLICT", message: "held" } },
    ];
    const wire = structuredClone(compactOutcomes(ops, items));
    expect(wire[0]).toBe(true);
    expect(expandOutcomes(ops, wire)).toEqual(items);
  });
});
