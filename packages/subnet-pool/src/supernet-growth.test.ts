import type { TopologyConfig } from "@ipam/topology";
import { describe, expect, it } from "vitest";
import { ClusterState } from "./cluster-state.js";
import type { ClusterCommand, CommandResult, LeaseBlockCommand } from "./commands.js";
import type { LeaseBlockValue } from "./supernet-growth.js";

const T0 = 1_700_000_000_000;

function config(
  strategy: "tor" | "pod" | "zone" | "spill" | undefined,
  supernet?: Record<string, unknown>,
): TopologyConfig {
  return {
    ...(strategy === undefined ? {} : { purposes: { default: { strategy } } }),
    zones: [
      {
        id: "z",
        subnets: [{ id: "zone-s", cidr: "10.99.128.0/26", blockPrefix: 26 }],
        pods: [
          {
            id: "p",
            ...(supernet === undefined
              ? {}
              : { supernets: [{ cidr: "10.99.64.0/22", prefix: 24, ...supernet }] }),
            subnets: [{ id: "pod-s", cidr: "10.99.32.0/26", blockPrefix: 26 }],
            tors: [
              {
                id: "t",
                subnets: [{ id: "tor-s", cidr: "10.99.64.0/24", blockPrefix: 26 }],
                nodes: [{ id: "n1" }, { id: "n2" }],
              },
              { id: "t2", nodes: [{ id: "n3" }] },
            ],
          },
        ],
      },
    ],
  };
}

function ok<T>(result: CommandResult<T>): T {
  if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`);
  return result.value;
}

function state(c: TopologyConfig): ClusterState {
  const s = new ClusterState();
  ok(s.apply({ type: "apply-topology", at: T0, config: c, source: "file" }));
  return s;
}

const lease = (node: string, extra: Partial<LeaseBlockCommand> = {}): LeaseBlockCommand => ({
  type: "lease-block",
  at: T0 + 1,
  node,
  purpose: "default",
  family: 4,
  ...extra,
});

function leaseOk(
  s: ClusterState,
  node: string,
  extra: Partial<LeaseBlockCommand> = {},
): LeaseBlockValue {
  return ok(s.apply(lease(node, extra)));
}

const subnetIds = (s: ClusterState): string[] => s.subnets().map((v) => v.subnet.id);

describe("strategy per purpose", () => {
  it("with the TOR's subnets full: tor refuses naming the strategy, pod and zone spill in order", () => {
    const drawn = (strategy: "tor" | "pod" | "zone" | "spill" | undefined): string[] => {
      const s = state(config(strategy));
      const out: string[] = [];
      for (let i = 0; i < 6; i++) {
        const r = s.apply(lease("n1"));
        if (!r.ok) {
          out.push(r.error.code);
          expect(r.error.message).toContain(
            `strategy ${strategy === "spill" || strategy === undefined ? "zone" : strategy}`,
          );
          expect(r.error.details.strategy).toBe(
            strategy === "spill" || strategy === undefined ? "zone" : strategy,
          );
          break;
        }
        out.push(r.value.subnet.id);
      }
      return out;
    };
    const tor = ["tor-s", "tor-s", "tor-s", "tor-s"];
    expect(drawn("tor")).toEqual([...tor, "POOL_EXHAUSTED"]);
    expect(drawn("pod")).toEqual([...tor, "pod-s", "POOL_EXHAUSTED"]);
    expect(drawn("zone")).toEqual([...tor, "pod-s", "zone-s"]);
    expect(drawn("spill")).toEqual([...tor, "pod-s", "zone-s"]);
    expect(drawn(undefined)).toEqual([...tor, "pod-s", "zone-s"]);
  });

  it("is honoured for static addresses and by the capacity check", () => {
    const s = state(config("tor"));
    const r = s.apply(lease("n1", { address: "10.99.32.5" }));
    expect(r.ok ? "accepted" : r.error.details.field).toBe("address");
    for (let i = 0; i < 4; i++) leaseOk(s, "n1");
    const cap = s.capacity("n1", "default", 4, T0);
    expect(cap.ok ? "room" : cap.error.code).toBe("POOL_EXHAUSTED");
    const zone = state(config("zone"));
    expect(leaseOk(zone, "n1", { address: "10.99.32.5" }).cidr).toBe("10.99.32.0/26");
  });
});

describe("least-used order", () => {
  const two: TopologyConfig = {
    zones: [
      {
        id: "z",
        pods: [
          {
            id: "p",
            tors: [
              {
                id: "t",
                subnets: [
                  { id: "a", cidr: "10.99.0.0/24", blockPrefix: 26 },
                  { id: "b", cidr: "10.99.1.0/25", blockPrefix: 26 },
                  { id: "c", cidr: "10.99.2.0/24", blockPrefix: 26, priority: 200 },
                ],
                nodes: [{ id: "n1" }],
              },
            ],
          },
        ],
      },
    ],
  };

  it("spreads leases over equal-priority subnets by leased fraction, then id; never past priority", () => {
    const s = state(two);
    const ids = Array.from(
      { length: 6 },
      () => leaseOk(s, "n1", { order: "least-used" }).subnet.id,
    );
    // a: 4 blocks, b: 2 blocks. a(0/4)=b(0/2) → a; b(0) → b; a(1/4) < b(1/2) → a; a(2/4)=b(1/2),
    // b fewer leased → b; then a, a; only then c.
    expect(ids).toEqual(["a", "b", "a", "b", "a", "a"]);
    expect(leaseOk(s, "n1", { order: "least-used" }).subnet.id).toBe("c");
  });

  it("without order, the first subnet fills first (earlier builds)", () => {
    const s = state(two);
    const ids = Array.from({ length: 5 }, () => leaseOk(s, "n1").subnet.id);
    expect(ids).toEqual(["a", "a", "a", "a", "b"]);
  });
});

describe("supernets that feed TORs", () => {
  it("a lease reaching the threshold carves exactly one adjacent subnet; leases continue from it", () => {
    const s = state(config("tor", {}));
    const carves: string[] = [];
    for (let i = 0; i < 8; i++) {
      const v = leaseOk(s, i % 2 === 0 ? "n1" : "n2");
      if (v.carved !== undefined) carves.push(`${i}:${v.carved.subnet.cidr}:${v.carved.placement}`);
    }
    // 4 blocks in tor-s: the 4th lease reaches 0.8 (4/4 >= 0.8, 3/4 < 0.8) and carves the sibling
    // /24 (10.99.64.0/23 aggregates); leases 5-8 come from it; the 8th reaches 8/8 again.
    expect(carves).toEqual(["3:10.99.65.0/24:adjacent", "6:10.99.66.0/24:adjacent"]);
    expect(
      s
        .subnets()
        .filter((v) => v.origin === "carved")
        .map((v) => v.subnet.id),
    ).toEqual(["10.99.65.0/24", "10.99.66.0/24"]);
    const carved = s.subnets().find((v) => v.subnet.id === "10.99.65.0/24");
    expect(carved?.subnet.scope).toEqual({ kind: "tor", id: "t" });
    expect(s.nodeLeases("n1").some((l) => l.subnet.id === "10.99.65.0/24")).toBe(true);
  });

  it("a retried lease (same requestId) carves nothing more", () => {
    const s = state(config("tor", { threshold: 0.25 }));
    const first = leaseOk(s, "n1", { requestId: "r1" });
    expect(first.carved?.subnet.cidr).toBe("10.99.65.0/24");
    const again = leaseOk(s, "n1", { requestId: "r1" });
    expect(again.cidr).toBe(first.cidr);
    expect(again.carved).toBeUndefined();
    expect(subnetIds(s).filter((id) => id.startsWith("10.99.6"))).toEqual(["10.99.65.0/24"]);
  });

  it("two racing carve-subnet commands with the same basis carve one subnet", () => {
    const s = state(config("tor", {}));
    const cmd: ClusterCommand = {
      type: "carve-subnet",
      at: T0,
      tor: "t",
      purpose: "default",
      family: 4,
      basis: 1,
    };
    const a = ok(s.apply(cmd));
    const b = ok(s.apply(cmd));
    expect(a.carved?.subnet.cidr).toBe("10.99.65.0/24");
    expect(b.carved).toBeUndefined();
    expect(b.subnets).toBe(2);
  });

  it("never overlaps a declared or carved subnet: the first free aligned slot when no neighbour is free", () => {
    const c = config("tor", {});
    const pod = c.zones?.[0]?.pods?.[0];
    const t2 = pod?.tors?.[1];
    if (t2 === undefined) throw new Error("no t2");
    t2.subnets = [{ id: "t2-s", cidr: "10.99.65.0/24", blockPrefix: 26 }];
    const s = state(c);
    const v = ok(
      s.apply({ type: "carve-subnet", at: T0, tor: "t", purpose: "default", family: 4 }),
    );
    // 10.99.65.0/24 (sibling) is t2's; the slot before 10.99.64.0 is outside the supernet.
    expect(v.carved).toMatchObject({ placement: "first-free" });
    expect(v.carved?.subnet.cidr).toBe("10.99.66.0/24");
    const full = ok(
      s.apply({ type: "carve-subnet", at: T0, tor: "t", purpose: "default", family: 4 }),
    );
    expect(full.carved?.subnet.cidr).toBe("10.99.67.0/24");
    const r = s.apply({ type: "carve-subnet", at: T0, tor: "t", purpose: "default", family: 4 });
    expect(r.ok ? "carved" : r.error.code).toBe("POOL_EXHAUSTED");
  });

  it("a lease that finds the TOR full carves and leases from the new subnet", () => {
    const s = state(config("tor", { threshold: 1 }));
    for (let i = 0; i < 3; i++) expect(leaseOk(s, "n1").carved).toBeUndefined();
    const fourth = leaseOk(s, "n1");
    expect(fourth.carved?.reason).toBe("threshold");
    const t2 = leaseOk(s, "n3");
    expect(t2.carved?.reason).toBe("exhausted");
    expect(t2.subnet.scope).toEqual({ kind: "tor", id: "t2" });
  });

  it("carved subnets survive file reloads, snapshots, and can be drained and given back", () => {
    const s = state(config("tor", { threshold: 0.25 }));
    leaseOk(s, "n1");
    ok(
      s.apply({
        type: "apply-topology",
        at: T0 + 2,
        config: config("tor", { threshold: 0.25 }),
        source: "file",
      }),
    );
    expect(subnetIds(s)).toContain("10.99.65.0/24");
    const restored = ClusterState.restore(s.snapshot());
    expect(restored.snapshot()).toEqual(s.snapshot());
    expect(restored.subnets().find((v) => v.subnet.id === "10.99.65.0/24")?.origin).toBe("carved");
    ok(s.apply({ type: "drain-subnet", at: T0 + 3, subnet: "10.99.65.0/24" }));
    ok(s.apply({ type: "remove-subnet", at: T0 + 4, subnet: "10.99.65.0/24" }));
    expect(subnetIds(s)).not.toContain("10.99.65.0/24");
    // Given back: the next carve takes the same adjacent slot again.
    const again = ok(
      s.apply({ type: "carve-subnet", at: T0 + 5, tor: "t", purpose: "default", family: 4 }),
    );
    expect(again.carved?.subnet.cidr).toBe("10.99.65.0/24");
  });

  it("bad supernet input is refused with the field named and the state unchanged", () => {
    const s = state(config("tor", {}));
    const before = s.snapshot();
    const bad = (c: TopologyConfig): string[] => {
      const r = s.apply({ type: "apply-topology", at: T0 + 9, config: c, source: "file" });
      if (r.ok) throw new Error("accepted");
      return (r.error.details.issues as { path: string }[]).map((i) => i.path);
    };
    expect(bad(config("tor", { threshold: 0 }))).toEqual([
      "zones[0].pods[0].supernets[0].threshold",
    ]);
    expect(bad(config("tor", { threshold: 1.2 }))).toEqual([
      "zones[0].pods[0].supernets[0].threshold",
    ]);
    expect(bad(config("tor", { cidr: "10.99.32.0/22" }))).toEqual([
      "zones[0].pods[0].supernets[0].cidr",
    ]);
    expect(bad(config("nearest" as "tor", {}))).toEqual(["purposes.default.strategy"]);
    expect(s.snapshot()).toEqual(before);
  });
});
