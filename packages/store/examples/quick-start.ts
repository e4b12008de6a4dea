// Runnable: pnpm exec tsx packages/store/examples/quick-start.ts (from the repository root).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isStoreError, openStore } from "../src/index.js";

const store = openStore({ path: join(mkdtempSync(join(tmpdir(), "ipamd-")), "ipamd.db") });

// Durable once the promise resolves (group commit: one fsync for every save of this turn).
const [a, b] = await Promise.all([
  store.saveAllocation({
    network: "default",
    containerId: "0f3a9c",
    ifname: "eth0",
    addresses: ["10.20.0.2", "fd00:20::2"],
    subnets: ["10.20.0.0/16", "fd00:20::/64"],
    node: "node-1",
    purpose: "default",
    podNamespace: "web",
    podName: "frontend-1",
    createdAt: Date.now(),
  }),
  store.saveAllocation({
    network: "default",
    containerId: "7be410",
    ifname: "eth0",
    addresses: ["10.20.0.3"],
    node: "node-1",
    purpose: "default",
    createdAt: Date.now(),
  }),
]);
console.log(a.created, b.created); // true true

// The same address under another key is refused, naming the holder.
try {
  await store.saveAllocation({ ...b.record, containerId: "c0ffee" });
} catch (err) {
  if (isStoreError(err, "CONFLICT")) console.log(err.message);
}

console.log(store.getByAddress("default", "FD00:20:0::2")?.podName); // frontend-1
console.log(await store.retainOnly("default", [{ containerId: "0f3a9c", ifname: "eth0" }])); // [7be410]

// Raft storage: synchronous, durable when each call returns.
const log = store.raftLog();
log.append([{ index: 1, term: 1, data: new TextEncoder().encode("hello") }]);
log.saveHardState({ term: 1, vote: "node-1", commit: 1 });
console.log(log.lastIndex(), log.loadHardState()); // 1 { term: 1, vote: 'node-1', commit: 1 }

console.log(store.integrityCheck()); // { ok: true, problems: [] }
store.close();
