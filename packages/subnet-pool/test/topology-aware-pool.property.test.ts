import { Cidr, parseIp } from "@ipam/bitmap";
import { exampleTopology } from "@ipam/topology";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type AllocatedAddress, isPoolError, TopologyAwarePool } from "../src/index.js";

const NODES = ["node-a1", "node-a2", "node-a3", "node-b1"];

type Op =
  | { kind: "alloc"; node: string; purpose: string; family: 4 | 6 }
  | { kind: "release"; pick: number; wrongNode: boolean };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("alloc" as const),
      node: fc.constantFrom(...NODES),
      purpose: fc.constantFrom("default", "storage", "management", "gpu"),
      family: fc.constantFrom(4 as const, 6 as const),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("release" as const),
      pick: fc.nat(),
      wrongNode: fc.boolean(),
    }),
  },
);

describe("TopologyAwarePool properties", () => {
  it("never gives one address to two holders, nor a wrong purpose or family", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 150 }), (ops) => {
        let now = 0;
        const pool = new TopologyAwarePool({ topology: exampleTopology(), clock: () => now });
        const held = new Map<string, { node: string; a: AllocatedAddress }>();
        for (const o of ops) {
          now += 1000;
          if (o.kind === "alloc") {
            try {
              const a = pool.allocateWithPurpose(o.node, o.purpose, { family: o.family });
              expect(held.has(a.address)).toBe(false);
              expect(parseIp(a.address).family).toBe(o.family);
              const subnet = pool.state.topology().subnets.get(a.subnet);
              expect(subnet?.purpose).toBe(o.purpose);
              expect(Cidr.parse(subnet?.cidr ?? "").contains(parseIp(a.address))).toBe(true);
              held.set(a.address, { node: o.node, a });
            } catch (error) {
              expect(isPoolError(error)).toBe(true);
              const code = (error as { code: string }).code;
              // gpu is a purpose no subnet has: a typo, INVALID_ARGUMENT, never exhaustion.
              if (o.purpose === "gpu") expect(code).toBe("INVALID_ARGUMENT");
              else expect(["NO_SUBNET", "POOL_EXHAUSTED"]).toContain(code);
            }
          } else if (held.size > 0) {
            const [address, h] = [...held.entries()][o.pick % held.size] as [
              string,
              { node: string },
            ];
            const other = NODES.find((n) => n !== h.node) as string;
            if (o.wrongNode) {
              expect(() => pool.releaseIP(other, address)).toThrow(
                expect.objectContaining({ code: "CONFLICT" }),
              );
            } else {
              pool.releaseIP(h.node, address);
              held.delete(address);
            }
          }
        }
        const byNode = NODES.flatMap((n) => pool.nodeStats(n).addresses);
        expect(byNode.sort()).toEqual([...held.keys()].sort());
      }),
      { numRuns: 60 },
    );
  });
});
