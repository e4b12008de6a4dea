// Test support for sqlite-crash.test.ts (not part of the package): a single-node RaftNode on
// SqliteStorage that proposes forever and prints `ack <key> <index-of-ack>` for every proposal
// the node acknowledged (applied), and `hs <term> <vote>` once it leads. The parent SIGKILLs it.
import { openStore } from "@ipam/store";
import { createRaftNode } from "../node/raft-node.js";
import { encodeKvPut, KvStateMachine } from "../testing/kv-state-machine.js";
import { MemoryNetwork } from "../transport/memory-transport.js";
import { createSqliteStorage } from "./sqlite-storage.js";

const [path, round] = process.argv.slice(2) as [string, string];
const store = openStore({ path });
const storage = createSqliteStorage(store.raftLog());
const node = createRaftNode({
  id: "solo",
  storage,
  stateMachine: new KvStateMachine(),
  transport: new MemoryNetwork().transport("solo"),
  bootstrap: { voters: ["solo"], learners: [] },
  tickMs: 5,
  electionTicks: 3,
  snapshotThreshold: 50,
});
let n = 0;
let announced = false;
function loop(): void {
  const st = node.status();
  if (st.role !== "leader") {
    setTimeout(loop, 2);
    return;
  }
  if (!announced) {
    announced = true;
    process.stdout.write(`hs ${st.term} ${st.vote ?? "-"}\n`);
  }
  // A few concurrent proposals per turn, so batches of several entries are exercised.
  const batch = st.pendingProposals > 32 ? 0 : 1 + (n % 5);
  for (let i = 0; i < batch; i++) {
    const key = `r${round}-${n++}`;
    node.propose(encodeKvPut({ key, value: key })).then(
      () => process.stdout.write(`ack ${key}\n`),
      () => {},
    );
  }
  setImmediate(loop);
}
loop();
