import { expect, it } from "vitest";
import { createRaftNode, type RaftError } from "../index.js";
import { encodeKvPut, KvStateMachine, MemoryNetwork, MemoryStorage } from "../testing/index.js";

// The README's driver example, verbatim apart from imports, logging and the assertions.
it("README example: a 3-node cluster with the node driver", async () => {
  const network = new MemoryNetwork();
  const voters = ["a", "b", "c"];
  const nodes = voters.map((id) =>
    createRaftNode({
      id,
      storage: new MemoryStorage(),
      stateMachine: new KvStateMachine(),
      transport: network.transport(id),
      bootstrap: { voters, learners: [] },
      tickMs: 20,
    }),
  );

  const leader = await new Promise<(typeof nodes)[number]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no leader elected within 10 s")), 10_000);
    for (const node of nodes) {
      node.onStatusChange((status) => {
        if (status.role !== "leader") return;
        clearTimeout(timer);
        resolve(node);
      });
    }
  });
  const follower = nodes.find((n) => n !== leader)!;

  await leader.propose(encodeKvPut({ key: "subnet", value: "10.0.0.0/24" }));
  let code: string | undefined;
  let details: unknown;
  try {
    await follower.propose(encodeKvPut({ key: "x", value: "y" }));
  } catch (err) {
    code = (err as RaftError).code;
    details = (err as RaftError).details;
  }
  expect(code).toBe("NOT_LEADER");
  expect(details).toEqual({ leaderId: leader.id });
  expect(leader.status().commit).toBeGreaterThanOrEqual(2);
  expect(Object.keys(leader.status().progress).sort()).toEqual(voters);
  await Promise.all(nodes.map((n) => n.stop()));
});
