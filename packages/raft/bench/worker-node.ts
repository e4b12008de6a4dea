// One RaftNode in a worker thread, for the "one thread per node" benchmark rows (bench/run.ts).
// Peers talk over MessagePorts carrying the binary codec; the main thread only sends commands
// (`role`, `run`, `stop`) over parentPort. Proposers run inside the leader's thread, so the
// measured latency is the same quantity as in the single-thread rows.
import { join } from "node:path";
import { type MessagePort, parentPort, workerData } from "node:worker_threads";
import { openStore } from "@ipam/store";
import { decodeMessages, encodeMessages } from "../src/codec/message-codec.js";
import { createSeededRandom } from "../src/core/random.js";
import { createRaftNode } from "../src/node/raft-node.js";
import { MemoryStorage } from "../src/storage/memory-storage.js";
import { createSqliteStorage } from "../src/storage/sqlite-storage.js";
import type { Message, NodeId, Storage, Transport } from "../src/types.js";
import { Counter, proposeFor } from "./load.js";

interface Init {
  readonly id: NodeId;
  readonly voters: NodeId[];
  readonly seed: number;
  readonly dir: string | undefined;
  readonly ports: Record<NodeId, MessagePort>;
}

type Command =
  | { readonly op: "role" }
  | { readonly op: "run"; readonly proposers: number; readonly ms: number }
  | { readonly op: "stop" };

const init = workerData as Init;
const port = parentPort!;

function portTransport(peers: Record<NodeId, MessagePort>): Transport {
  let handler: ((messages: readonly Message[]) => void) | undefined;
  for (const p of Object.values(peers)) {
    p.on("message", (bytes: Uint8Array) => handler?.(decodeMessages(bytes)));
  }
  return {
    send(to, messages) {
      peers[to]?.postMessage(encodeMessages(messages));
    },
    onReceive(h) {
      handler = h;
    },
    async close() {
      handler = undefined;
      for (const p of Object.values(peers)) p.close();
    },
  };
}

let storage: Storage;
let close = () => {};
if (init.dir === undefined) {
  storage = new MemoryStorage();
} else {
  const store = openStore({ path: join(init.dir, `${init.id}.db`) });
  storage = createSqliteStorage(store.raftLog());
  close = () => store.close();
}
const node = createRaftNode<number>({
  id: init.id,
  storage,
  stateMachine: new Counter(),
  transport: portTransport(init.ports),
  bootstrap: { voters: init.voters, learners: [] },
  random: createSeededRandom(init.seed),
  tickMs: 50,
  electionTicks: 10,
  snapshotThreshold: 50_000,
  maxPendingProposals: 100_000,
});

port.on("message", (cmd: Command) => {
  if (cmd.op === "role") {
    port.postMessage({ role: node.status().role });
  } else if (cmd.op === "run") {
    proposeFor((data) => node.propose(data), cmd.proposers, cmd.ms).then(
      (result) => port.postMessage(result),
      (err: unknown) => port.postMessage({ error: String(err) }),
    );
  } else {
    void node.stop().then(() => {
      close();
      port.postMessage({ stopped: true });
      port.close();
    });
  }
});
