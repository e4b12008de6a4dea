import type { TopologyConfig } from "@ipam/topology";
import { describe, expect, it } from "vitest";
import { ClusterState } from "./cluster-state.js";
import type {
  CarveSubnetCommand,
  ClusterCommand,
  CommandResult,
  LeaseBlockCommand,
} from "./commands.js";
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

describe("supernets that feed direct-mode subnets", () => {
  /** TOR t has a direct-mode /29 (6 usable addresses: network, gateway, broadcast excluded). */
  function directConfig(supernet: Record<string, unknown> = {}): TopologyConfig {
    return {
      purposes: { mgmt: { strategy: "tor" } },
      zones: [
        {
          id: "z",
          pods: [
            {
              id: "p",
              supernets: [
                {
                  cidr: "10.99.96.0/24",
                  prefix: 29,
                  blockPrefix: 32,
                  purpose: "mgmt",
                  ...supernet,
                },
              ],
              tors: [
                {
                  id: "t",
                  subnets: [
                    { id: "t-mgmt", cidr: "10.99.96.0/29", purpose: "mgmt", blockPrefix: 32 },
                  ],
                  nodes: [{ id: "n1" }],
                },
                { id: "t2", nodes: [{ id: "n3" }] },
              ],
            },
          ],
        },
      ],
    };
  }

  const allocate = (s: ClusterState, node: string, i: number, address?: string) =>
    s.apply({
      type: "allocate-direct",
      at: T0 + i,
      node,
      purpose: "mgmt",
      family: 4,
      key: { network: "net", containerId: `c${i}`, ifname: "eth0" },
      ...(address === undefined ? {} : { address }),
    });

  it("an allocation reaching the threshold carves one adjacent direct-mode subnet, once", () => {
    const s = state(directConfig({ threshold: 0.5 }));
    const carves: string[] = [];
    const subnets: string[] = [];
    for (let i = 0; i < 8; i++) {
      const v = ok(allocate(s, "n1", i));
      subnets.push(v.subnet);
      if (v.carved !== undefined) carves.push(`${i}:${v.carved.subnet.cidr}:${v.carved.placement}`);
    }
    // t-mgmt has 5 addresses (network, gateway and broadcast excluded): the 3rd allocation
    // reaches 3/5 >= 0.5 and carves the sibling /29; the next ones spread over 10 addresses
    // and the 5th of them (8/10) does not carve again until the threshold is met again.
    expect(carves[0]).toBe("2:10.99.96.8/29:adjacent");
    expect(s.subnets().find((v) => v.subnet.id === "10.99.96.8/29")).toMatchObject({
      origin: "carved",
      subnet: { blockPrefix: 32, scope: { kind: "tor", id: "t" } },
    });
    expect(subnets).toContain("10.99.96.8/29");
    // A repeat of an allocation (same key) carves nothing.
    expect(ok(allocate(s, "n1", 7)).carved).toBeUndefined();
  });

  it("an allocation that finds the TOR's direct subnets full carves and allocates from the new one", () => {
    const s = state(directConfig({ threshold: 1 }));
    const t2 = ok(allocate(s, "n3", 1));
    expect(t2.carved).toMatchObject({ reason: "exhausted", placement: "first-free" });
    expect(t2.carved?.subnet.cidr).toBe("10.99.96.8/29");
    expect(t2.subnet).toBe("10.99.96.8/29");
  });

  it("block-mode supernets do not feed direct-mode needs, nor the reverse", () => {
    const s = state(config("tor", {}));
    expect(s.subnets().filter((v) => v.origin === "carved")).toEqual([]);
    const d = state(directConfig({ threshold: 0.01 }));
    const r = d.apply({ type: "lease-block", at: T0, node: "n1", purpose: "mgmt", family: 4 });
    expect(r.ok ? "leased" : r.error.code).toBe("NO_SUBNET");
    expect(d.subnets().filter((v) => v.origin === "carved")).toEqual([]);
  });

  it("replicas that apply the same allocations hold the same carves (snapshot bytes)", () => {
    const a = state(directConfig({ threshold: 0.5 }));
    const b = state(directConfig({ threshold: 0.5 }));
    for (let i = 0; i < 6; i++) {
      ok(allocate(a, "n1", i));
      ok(allocate(b, "n1", i));
    }
    expect(a.snapshot()).toEqual(b.snapshot());
    expect(ClusterState.restore(a.snapshot()).snapshot()).toEqual(a.snapshot());
  });
});

describe("carve-subnet by hand", () => {
  const carve = (extra: Record<string, unknown> = {}): CarveSubnetCommand =>
    ({
      type: "carve-subnet",
      at: T0,
      tor: "t",
      purpose: "default",
      family: 4,
      ...extra,
    }) as CarveSubnetCommand;

  it("a request id makes a retry answer the same subnet, on a restored replica too", () => {
    const s = state(config("tor", {}));
    const first = ok(s.apply(carve({ requestId: "op-1" })));
    expect(first.carved?.subnet.cidr).toBe("10.99.65.0/24");
    const again = ok(s.apply(carve({ requestId: "op-1" })));
    expect(again.carved).toBeUndefined();
    expect(again.alreadyCarved?.cidr).toBe("10.99.65.0/24");
    const restored = ClusterState.restore(s.snapshot());
    expect(ok(restored.apply(carve({ requestId: "op-1" }))).alreadyCarved?.cidr).toBe(
      "10.99.65.0/24",
    );
    expect(ok(s.apply(carve({ requestId: "op-2" }))).carved?.subnet.cidr).toBe("10.99.66.0/24");
    const other = s.apply(carve({ requestId: "op-1", tor: "t2" }));
    expect(other.ok ? "carved" : [other.error.code, other.error.details.field]).toEqual([
      "CONFLICT",
      "requestId",
    ]);
  });

  it("carves the prefix asked for when a supernet can, and names the field otherwise", () => {
    const s = state(config("tor", { blockPrefix: 26 }));
    expect(ok(s.apply(carve({ prefix: 25 }))).carved?.subnet.cidr).toBe("10.99.65.0/25");
    const bad = (extra: Record<string, unknown>): unknown => {
      const r = s.apply(carve(extra));
      return r.ok ? "carved" : [r.error.code, r.error.message.split(":")[0]];
    };
    expect(bad({ prefix: 27 })).toEqual(["INVALID_ARGUMENT", "carve-subnet.prefix"]);
    expect(bad({ prefix: 21 })).toEqual(["INVALID_ARGUMENT", "carve-subnet.prefix"]);
    expect(bad({ tor: "nope" })).toEqual(["NOT_FOUND", "carve-subnet.tor"]);
    expect(bad({ purpose: "storage" })).toEqual(["NO_SUBNET", "carve-subnet.purpose"]);
    expect(bad({ mode: "direct" })).toEqual(["NO_SUBNET", "carve-subnet.purpose"]);
    expect(bad({ mode: "sideways" })).toEqual(["INVALID_ARGUMENT", "carve-subnet.mode"]);
  });

  it("a drained and removed carved subnet is returned: the range can be carved again", () => {
    const s = state(config("tor", {}));
    ok(s.apply(carve({ requestId: "op-1" })));
    ok(s.apply({ type: "drain-subnet", at: T0 + 1, subnet: "10.99.65.0/24" }));
    ok(s.apply({ type: "remove-subnet", at: T0 + 2, subnet: "10.99.65.0/24" }));
    // The request id went with the subnet: it carves again, the same slot.
    expect(ok(s.apply(carve({ requestId: "op-1" }))).carved?.subnet.cidr).toBe("10.99.65.0/24");
  });
});

describe("a topology reload against carved subnets", () => {
  it("declaring a subnet that overlaps a carved one is refused naming the file's field; state unchanged", () => {
    const s = state(config("tor", {}));
    ok(s.apply({ type: "carve-subnet", at: T0, tor: "t", purpose: "default", family: 4 }));
    const before = s.snapshot();
    const c = config("tor", {});
    const t2 = c.zones?.[0]?.pods?.[0]?.tors?.[1];
    if (t2 === undefined) throw new Error("no t2");
    t2.subnets = [{ id: "t2-new", cidr: "10.99.65.128/25", blockPrefix: 26 }];
    const r = s.apply({ type: "apply-topology", at: T0 + 1, config: c, source: "file" });
    expect(r.ok ? "applied" : [r.error.code, r.error.details.field]).toEqual([
      "CONFLICT",
      "zones[0].pods[0].tors[1].subnets[0].cidr",
    ]);
    expect(r.ok ? "" : r.error.message).toContain("carved from a supernet");
    expect(s.snapshot()).toEqual(before);
  });

  it("a reload that only changes a purpose's strategy is applied and shows in the diff", () => {
    const s = state(config("tor"));
    for (let i = 0; i < 4; i++) leaseOk(s, "n1", { at: T0 + 1 + i });
    const full = s.apply(lease("n1"));
    expect(full.ok ? "leased" : full.error.code).toBe("POOL_EXHAUSTED");
    const r = ok(
      s.apply({ type: "apply-topology", at: T0 + 6, config: config("pod"), source: "file" }),
    );
    expect(r.diff.empty).toBe(false);
    expect(
      r.diff.purposePolicies.changed.map((x) => [x.id, x.before.strategy, x.after.strategy]),
    ).toEqual([["default", "tor", "pod"]]);
    // Applied: the TOR is full, the pod's subnet now serves the node.
    expect(leaseOk(s, "n1", { at: T0 + 7 }).subnet.id).toBe("pod-s");
  });
});
