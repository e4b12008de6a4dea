import { encodeCommand } from "@ipam/subnet-pool";
import { exampleTopology, toCanonicalConfig } from "@ipam/topology";
import { describe, expect, it } from "vitest";
import { decodeEntries, EtcdReplica, encodeEntries, encodeEntry } from "./etcd-replica.js";

const topology = {
  type: "apply-topology",
  at: 1,
  config: toCanonicalConfig(exampleTopology()),
} as const;
const register = (node: string) =>
  ({ type: "register-node", at: 2, node, tor: "tor-a1-1" }) as const;
const lease = { type: "lease-block", at: 3, node: "n1", purpose: "default", family: 4 } as const;

describe("EtcdReplica", () => {
  it("round-trips an entry, and refuses bytes that are not one", () => {
    const bytes = encodeEntry("id-1", register("n1"));
    expect(decodeEntries(bytes)).toEqual([{ id: "id-1", command: register("n1") }]);
    const two = encodeEntries([
      { id: "a", bytes: encodeCommand(register("n1")) },
      { id: "b", bytes: encodeCommand(lease) },
    ]);
    expect(decodeEntries(two)).toEqual([
      { id: "a", command: register("n1") },
      { id: "b", command: lease },
    ]);
    expect(() => decodeEntries(new Uint8Array([9, 0, 1]))).toThrow("log entry: entry version 9");
    expect(() => decodeEntries(two.subarray(0, two.length - 2))).toThrow("log entry:");
    expect(() => encodeEntries([])).toThrow("log entry: 1 to 65535 commands");
    expect(() => encodeEntry("x".repeat(256), register("n1"))).toThrow(
      "entry id: at most 255 bytes",
    );
  });

  it("applies entries in revision order once: an older revision and a repeated id change nothing", () => {
    const r = new EtcdReplica();
    expect(r.apply(encodeEntry("a", topology), 10n)).toMatchObject([{ kind: "applied", id: "a" }]);
    expect(r.apply(encodeEntry("b", register("n1")), 12n)).toMatchObject([{ kind: "applied" }]);
    const first = r.apply(encodeEntry("c", lease), 15n);
    expect(first).toMatchObject([{ kind: "applied", result: { ok: true } }]);
    // The same entry at its own revision again (a re-list overlap): ignored.
    expect(r.apply(encodeEntry("c", lease), 15n)).toEqual([]);
    // The same id appended again (a retried proposal): not applied a second time.
    expect(r.apply(encodeEntry("c", lease), 20n)).toEqual([{ kind: "duplicate", id: "c" }]);
    expect(r.state.nodeLeases("n1")).toHaveLength(1);
    expect(r.revision).toBe(20n);
    // A group of commands in one entry applies in order, each once.
    const group = encodeEntries([
      { id: "d", bytes: encodeCommand(lease) },
      { id: "c", bytes: encodeCommand(lease) },
      { id: "e", bytes: encodeCommand(register("n2")) },
    ]);
    expect(r.apply(group, 21n).map((o) => o.kind)).toEqual(["applied", "duplicate", "applied"]);
    expect(r.state.nodeLeases("n1")).toHaveLength(2);
    // An unreadable value is skipped, the revision still moves.
    expect(r.apply(new Uint8Array([7]), 22n)).toMatchObject([{ kind: "unreadable" }]);
    expect(r.revision).toBe(22n);
  });

  it("keeps a bounded id window", () => {
    const r = new EtcdReplica(4);
    r.apply(encodeEntry("t", topology), 1n);
    for (let i = 0; i < 20; i++) r.apply(encodeEntry(`r${i}`, register(`n${i}`)), BigInt(i + 2));
    expect(r.hasApplied("r19")).toBe(true);
    expect(r.hasApplied("r16")).toBe(true);
    expect(r.hasApplied("r0")).toBe(false);
  });

  it("snapshots the state, the revision and the id window; a restored replica drops a repeat too", () => {
    const a = new EtcdReplica();
    a.apply(encodeEntry("a", topology), 5n);
    a.apply(encodeEntry("b", register("n1")), 6n);
    a.apply(encodeEntry("c", lease), 9n);
    const bytes = a.snapshot();
    const b = new EtcdReplica();
    b.restore(bytes);
    expect(b.revision).toBe(9n);
    expect(Buffer.from(b.snapshot()).equals(Buffer.from(bytes))).toBe(true);
    expect(b.apply(encodeEntry("c", lease), 11n)).toEqual([{ kind: "duplicate", id: "c" }]);
    expect(b.state.nodeLeases("n1")).toHaveLength(1);
    // Two replicas that applied the same entries hold the same bytes.
    a.apply(encodeEntry("c", lease), 11n);
    expect(Buffer.from(a.snapshot()).equals(Buffer.from(b.snapshot()))).toBe(true);
  });

  it("refuses a damaged snapshot and keeps what it had", () => {
    const r = new EtcdReplica();
    r.apply(encodeEntry("a", topology), 5n);
    const good = r.snapshot();
    expect(() => r.restore(new Uint8Array([1, 2, 3]))).toThrow(
      "etcd snapshot: not an etcd replica snapshot",
    );
    const bad = good.slice();
    bad[bad.length - 3] = 0;
    expect(() => r.restore(bad)).toThrow("etcd snapshot:");
    expect(r.revision).toBe(5n);
    expect(Buffer.from(r.snapshot()).equals(Buffer.from(good))).toBe(true);
  });
});
