import { describe, expect, it } from "vitest";
import { ClusterState } from "./cluster-state.js";
import { decodeCommand, encodeCommand } from "./command-codec.js";
import type { BindStickyCommand, ClusterCommand } from "./commands.js";

const config = {
  version: 1,
  zones: [
    {
      id: "z",
      pods: [
        {
          id: "p",
          tors: [
            {
              id: "t1",
              subnets: [{ id: "t1-v4", cidr: "10.99.0.0/24", blockPrefix: 28 }],
              nodes: [{ id: "a1" }, { id: "a2" }],
            },
            {
              id: "t2",
              subnets: [{ id: "t2-v4", cidr: "10.99.1.0/24", blockPrefix: 28 }],
              nodes: [{ id: "b1" }],
            },
          ],
        },
      ],
    },
  ],
};

function cluster(): ClusterState {
  const s = new ClusterState();
  const r = s.apply({ type: "apply-topology", at: 1, config } as ClusterCommand);
  if (!r.ok) throw new Error(r.error.message);
  return s;
}

const web0 = { namespace: "db", statefulSet: "web", ordinal: 0 } as const;

function bind(
  node: string,
  podUid: string,
  address = "10.99.0.5",
  extra: Partial<BindStickyCommand> = {},
): BindStickyCommand {
  return {
    type: "bind-sticky",
    at: 10,
    ...web0,
    purpose: "default",
    addresses: [address],
    node,
    podUid,
    ...extra,
  };
}

const release = (podUid: string): ClusterCommand => ({
  type: "release-sticky",
  at: 20,
  ...web0,
  podUid,
});

describe("sticky bindings of StatefulSet pods", () => {
  it("never two holders: a new pod of the name is refused (retryable) until the old one released it", () => {
    const s = cluster();
    expect(s.apply(bind("a1", "uid-1")).ok).toBe(true);
    const before = s.snapshot();
    const refused = s.apply(bind("a2", "uid-2"));
    expect(refused.ok).toBe(false);
    if (refused.ok) return;
    expect(refused.error.code).toBe("CONFLICT");
    expect(refused.error.message).toContain("held by pod uid-1 on node a1");
    expect(refused.error.details).toMatchObject({ retryable: true, holderNode: "a1" });
    expect(Buffer.from(s.snapshot()).equals(Buffer.from(before))).toBe(true);
    // Another UID cannot release it for the holder.
    expect(s.apply(release("uid-2"))).toEqual({ ok: true, value: { released: false } });
    expect(s.apply(bind("a2", "uid-2")).ok).toBe(false);
    expect(s.apply(release("uid-1"))).toEqual({ ok: true, value: { released: true } });
    expect(s.stickyBinding(web0)?.holder).toBeUndefined();
    const taken = s.apply(bind("a2", "uid-2"));
    expect(taken.ok && taken.value.binding).toMatchObject({
      addresses: ["10.99.0.5"],
      tor: "t1",
      boundAt: 10,
      holder: { node: "a2", podUid: "uid-2" },
    });
    expect(taken.ok && taken.value.moved).toBeUndefined();
  });

  it("the holder binding again is idempotent", () => {
    const s = cluster();
    s.apply(bind("a1", "uid-1"));
    const again = s.apply(bind("a1", "uid-1", "10.99.0.5", { at: 99 }));
    expect(again.ok && again.value.binding.boundAt).toBe(10);
    expect(s.stickyBindings()).toHaveLength(1);
  });

  it("a pod back outside the scope binds its new address: the value names the old one", () => {
    const s = cluster();
    s.apply(bind("a1", "uid-1"));
    s.apply(release("uid-1"));
    const moved = s.apply(bind("b1", "uid-2", "10.99.1.9", { at: 30 }));
    expect(moved.ok && moved.value).toMatchObject({
      binding: { addresses: ["10.99.1.9"], tor: "t2", boundAt: 30 },
      moved: { addresses: ["10.99.0.5"], tor: "t1" },
    });
  });

  it("scale-down and deletion unbind only unheld bindings from the ordinal up", () => {
    const s = cluster();
    for (const ordinal of [0, 1, 2]) {
      s.apply(bind("a1", `uid-${ordinal}`, `10.99.0.${10 + ordinal}`, { ordinal }));
    }
    s.apply({ type: "release-sticky", at: 20, ...web0, ordinal: 2, podUid: "uid-2" });
    const down = s.apply({
      type: "unbind-sticky",
      at: 30,
      namespace: "db",
      statefulSet: "web",
      fromOrdinal: 1,
    });
    expect(down.ok && down.value.unbound.map((b) => b.ordinal)).toEqual([2]);
    expect(down.ok && down.value.held.map((b) => b.ordinal)).toEqual([1]);
    expect(s.stickyBindings().map((b) => b.ordinal)).toEqual([0, 1]);
    // Another StatefulSet of the namespace is never touched.
    s.apply(bind("a1", "uid-x", "10.99.0.40", { statefulSet: "api" }));
    s.apply({ type: "release-sticky", at: 40, ...web0, statefulSet: "api", podUid: "uid-x" });
    for (const podUid of ["uid-0", "uid-1"]) {
      s.apply({
        type: "release-sticky",
        at: 40,
        ...web0,
        ordinal: Number(podUid.slice(-1)),
        podUid,
      });
    }
    s.apply({ type: "unbind-sticky", at: 50, namespace: "db", statefulSet: "web", fromOrdinal: 0 });
    expect(s.stickyBindings().map((b) => `${b.statefulSet}-${b.ordinal}`)).toEqual(["api-0"]);
  });

  it("a node declared dead lets go of its pods' bindings", () => {
    const s = cluster();
    s.apply(bind("a1", "uid-1"));
    expect(s.apply({ type: "deregister-node", at: 30, node: "a1", mode: "dead" }).ok).toBe(true);
    expect(s.stickyBinding(web0)?.holder).toBeUndefined();
    expect(s.apply(bind("a2", "uid-2")).ok).toBe(true);
  });

  it("refuses bad fields naming them, changing nothing", () => {
    const s = cluster();
    const cases: Array<[Partial<BindStickyCommand>, string]> = [
      [{ namespace: "" }, "bind-sticky.namespace"],
      [{ statefulSet: "a/b" }, "bind-sticky.statefulSet"],
      [{ ordinal: -1 }, "bind-sticky.ordinal"],
      [{ addresses: [] }, "bind-sticky.addresses"],
      [{ addresses: ["10.99.0.1", "10.99.0.2"] }, "bind-sticky.addresses"],
      [{ addresses: ["nope"] }, "bind-sticky.addresses[0]"],
      [{ podUid: "" }, "bind-sticky.podUid"],
    ];
    for (const [extra, field] of cases) {
      const r = s.apply(bind("a1", "uid-1", "10.99.0.5", extra));
      expect(r.ok ? "ok" : r.error.message).toContain(field);
    }
    const unknown = s.apply(bind("zz", "uid-1"));
    expect(unknown.ok ? "ok" : unknown.error.code).toBe("NOT_FOUND");
    expect(s.stickyBindings()).toEqual([]);
  });

  it("bindings survive a snapshot and the commands their wire encoding", () => {
    const s = cluster();
    s.apply(bind("a1", "uid-1", "10.99.0.5", { addresses: ["10.99.0.5", "fd99::5"] }));
    const copy = ClusterState.restore(s.snapshot());
    expect(copy.stickyBindings()).toEqual(s.stickyBindings());
    expect(copy.stickyBinding(web0)?.addresses).toEqual(["10.99.0.5", "fd99::5"]);
    const cmd = bind("a1", "uid-1");
    expect(decodeCommand(encodeCommand(cmd))).toEqual(cmd);
  });
});
