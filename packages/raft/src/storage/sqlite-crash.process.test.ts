import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { openStore } from "@ipam/store";
import { afterAll, describe, expect, it } from "vitest";
import { createSeededRandom } from "../core/random.js";
import { createRaftNode } from "../node/raft-node.js";
import { VirtualTime } from "../node/virtual-time.js";
import { KvStateMachine } from "../testing/kv-state-machine.js";
import { MemoryNetwork } from "../transport/memory-transport.js";
import { createSqliteStorage } from "./sqlite-storage.js";

const here = dirname(fileURLToPath(import.meta.url));
const packageRoot = join(here, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "raft-crash-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface RoundOutput {
  acks: string[];
  hardState: { term: number; vote: string } | undefined;
}

/** A child that has acknowledged nothing by then is broken, not slow (it starts in ~1 s). */
const FIRST_ACK_DEADLINE_MS = 120_000;

/** Run the child until it acknowledged something, wait `extraMs` more, then SIGKILL it. */
function runAndKill(path: string, round: number, extraMs: number): Promise<RoundOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(here, "crash-child.ts"), path, String(round)],
      { cwd: packageRoot, stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    let err = "";
    let killTimer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      out += chunk;
      if (killTimer === undefined && out.includes("ack ")) {
        killTimer = setTimeout(() => child.kill("SIGKILL"), extraMs);
      }
    });
    child.stderr.on("data", (chunk: Buffer) => {
      err += chunk.toString();
    });
    let gaveUp = false;
    const giveUp = setTimeout(() => {
      gaveUp = true;
      child.kill("SIGKILL");
    }, FIRST_ACK_DEADLINE_MS);
    child.on("error", reject);
    child.on("exit", (_code, signal) => {
      clearTimeout(giveUp);
      if (gaveUp && killTimer === undefined) {
        reject(new Error(`child acknowledged nothing in ${FIRST_ACK_DEADLINE_MS} ms: ${err}`));
        return;
      }
      if (signal !== "SIGKILL") {
        reject(new Error(`child exited on its own (${String(_code)}): ${err}`));
        return;
      }
      // Only complete lines count: a line cut by the kill was never fully acknowledged.
      const lines = out.split("\n").slice(0, -1);
      const acks = lines.filter((l) => l.startsWith("ack ")).map((l) => l.slice(4));
      const hs = lines.find((l) => l.startsWith("hs "))?.split(" ");
      resolve({
        acks,
        hardState: hs === undefined ? undefined : { term: Number(hs[1]), vote: hs[2]! },
      });
    });
  });
}

describe("SqliteStorage crash safety (SIGKILL)", () => {
  it("keeps every acknowledged proposal and the hard state across 20 kills at random moments", async () => {
    const path = join(dir, "crash.db");
    const random = createSeededRandom(20_261_128);
    const acked: string[] = [];
    let rounds = 0;
    for (let round = 0; round < 20; round++) {
      const { acks, hardState } = await runAndKill(path, round, Math.floor(random() * 150));
      acked.push(...acks);
      expect(acks.length).toBeGreaterThan(0);

      const store = openStore({ path });
      const storage = createSqliteStorage(store.raftLog());
      const hs = storage.initialState().hardState;
      if (hardState !== undefined) {
        expect(hs.term).toBeGreaterThanOrEqual(hardState.term);
        if (hs.term === hardState.term) expect(hs.vote).toBe(hardState.vote);
      }
      // Restart a node on the reopened storage: it re-applies the log exactly once.
      const sm = new KvStateMachine();
      const time = new VirtualTime();
      const node = createRaftNode({
        id: "solo",
        storage,
        stateMachine: sm,
        transport: new MemoryNetwork({ schedule: time.schedule }).transport("solo"),
        bootstrap: { voters: ["solo"], learners: [] },
        clock: time.clock,
        schedule: time.schedule,
        tickMs: 5,
        electionTicks: 3,
      });
      time.start();
      await time.waitFor(
        () => node.status().role === "leader" && node.status().applied === node.status().commit,
        10_000,
        "restarted node leads and applies its log",
      );
      const missing = acked.filter((key) => sm.get(key) !== key);
      expect(missing).toEqual([]);
      await node.stop();
      await time.stop();
      storage.flush();
      store.close();
      rounds++;
    }
    expect(rounds).toBe(20);
    expect(acked.length).toBeGreaterThan(20);
  });
});
