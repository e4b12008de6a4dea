import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { beforeAll, describe, expect, it } from "vitest";
import { openStore, type Store } from "../src/index.js";
import { crashCooling, crashEntryData, crashRecord, isDeleted } from "./fixtures/crash-record.js";
import { useTempDir } from "./helpers/temp-dir.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const buildDir = join(root, "test-results", "crash-build");
const tempDir = useTempDir();

/**
 * Transpiles src/ and the fixtures to plain JS once, so each child starts with bare `node`
 * (tens of milliseconds) instead of a TypeScript loader. The output sits inside the
 * package so `better-sqlite3` resolves from its node_modules.
 */
function buildFixture(): string {
  const files = [
    ...readdirSync(join(root, "src"))
      .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
      .map((f) => join(root, "src", f)),
    join(root, "test", "fixtures", "crash-record.ts"),
    join(root, "test", "fixtures", "crash-writer.ts"),
  ];
  for (const file of files) {
    const out = ts.transpileModule(readFileSync(file, "utf8"), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      fileName: file,
    }).outputText;
    const dest = join(buildDir, relative(root, file)).replace(/\.ts$/, ".js");
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, out);
  }
  writeFileSync(join(buildDir, "package.json"), '{ "type": "module" }\n');
  return join(buildDir, "test", "fixtures", "crash-writer.js");
}

/** Small seeded PRNG (mulberry32) so a failing run can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Round {
  /** What the writer said its group commits run on (absent when killed before it said). */
  thread: string | undefined;
  acked: number[];
  /** Ids whose delete (with its cooling entry) was acknowledged. */
  deleted: number[];
  raftAcked: number;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/**
 * Runs the writer and SIGKILLs it: `delayMs` after spawn when `early` (during start-up or
 * the first writes), otherwise `delayMs` after its `acks`-th acknowledgement, so every such
 * round dies with writes in flight however loaded the machine is.
 */
function runRound(
  script: string,
  path: string,
  first: number,
  kill: { early: boolean; acks: number; delayMs: number },
) {
  return new Promise<Round>((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [script, path, String(first), "16"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let stderr = "";
    let armed = false;
    let acks = 0;
    const arm = () => {
      if (armed) return;
      armed = true;
      setTimeout(() => child.kill("SIGKILL"), kill.delayMs);
    };
    if (kill.early) arm();
    child.stdout?.on("data", (d: Buffer) => {
      const text = d.toString();
      out += text;
      acks += text.split("ack ").length - 1;
      if (acks >= kill.acks) arm();
    });
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("close", (_code, signal) => {
      const lines = out.split("\n");
      lines.pop(); // an unterminated last line was never fully acknowledged
      const ids = (prefix: string) =>
        lines.filter((l) => l.startsWith(prefix)).map((l) => Number(l.slice(prefix.length)));
      const raft = ids("raft ");
      resolve({
        thread: lines.find((l) => l.startsWith("thread "))?.slice("thread ".length),
        acked: ids("ack "),
        deleted: ids("del "),
        raftAcked: raft.length > 0 ? Math.max(...raft) : 0,
        signal,
        stderr,
      });
    });
  });
}

/**
 * Checks acknowledged saves against the reopened file: a record the writer never deletes is
 * there with its full data; one whose delete was acknowledged is gone and its cooling entry
 * (written in the delete's transaction) is there; one whose delete was in flight is either
 * still there without the cooling entry or gone with it — never half of the delete.
 */
function checkAcknowledged(
  store: Store,
  acked: readonly number[],
  deleted: ReadonlySet<number>,
  context: string,
): void {
  const cooling = new Map(store.listCooling(0).map((c) => [c.address, c.until]));
  for (const id of acked) {
    const record = crashRecord(id);
    const stored = store.getAllocation(record);
    const cooled = cooling.get(record.addresses[0]!) === crashCooling(id)[0]!.until;
    const what = `${context}: acked id ${id}`;
    if (deleted.has(id)) {
      expect(stored, `${what}: its delete was acknowledged`).toBeUndefined();
      expect(cooled, `${what}: the cooling entry of its delete`).toBe(true);
    } else if (!isDeleted(id)) {
      expect(stored, what).toEqual(record);
      expect(cooled, what).toBe(false);
    } else {
      expect(stored === undefined, `${what}: the delete is all or nothing`).toBe(cooled);
      if (stored !== undefined) expect(stored, what).toEqual(record);
    }
  }
}

describe("crash safety", () => {
  let script = "";
  beforeAll(() => {
    script = buildFixture();
  });

  it("keeps every acknowledged write across 60 SIGKILLs during commits on the commit thread, with nothing half written", async () => {
    const seed = Number(process.env.STORE_CRASH_SEED ?? Date.now() % 2 ** 31);
    const random = rng(seed);
    const path = join(tempDir(), "crash.db");
    const allAcked: number[] = [];
    const allDeleted = new Set<number>();
    let raftAcked = 0;
    let killedWhileWriting = 0;
    for (let round = 0; round < 60; round++) {
      const early = round % 10 === 0;
      const r = await runRound(script, path, round * 100_000, {
        early,
        acks: 1 + Math.floor(random() * 150),
        delayMs: early ? Math.floor(random() * 150) : Math.floor(random() * 3),
      });
      const context = `seed ${seed} (STORE_CRASH_SEED=${seed} replays it), round ${round}`;
      expect(r.signal, `${context}: the writer exited by itself: ${r.stderr}`).toBe("SIGKILL");
      if (r.acked.length > 0) {
        // The path under test: group commits on the commit thread, Raft on the main thread.
        expect(r.thread, context).toBe("worker");
        killedWhileWriting++;
      }
      allAcked.push(...r.acked);
      for (const id of r.deleted) allDeleted.add(id);
      raftAcked = Math.max(raftAcked, r.raftAcked);

      const store = openStore({ path, checkOnOpen: "full" });
      try {
        expect(store.integrityCheck(), context).toEqual({ ok: true, problems: [] });
        // This round's acknowledged writes (earlier rounds' were checked after their round and
        // are checked again, all of them, at the end).
        checkAcknowledged(store, r.acked, new Set(r.deleted), context);
        const log = store.raftLog();
        expect(log.lastIndex(), context).toBeGreaterThanOrEqual(raftAcked);
        const last = log.lastIndex();
        if (last > 0) {
          for (const e of log.entries(log.firstIndex(), last + 1)) {
            expect(Buffer.from(e.data).toString(), context).toBe(
              Buffer.from(crashEntryData(e.index)).toString(),
            );
          }
        }
      } finally {
        store.close();
      }
    }
    const store = openStore({ path, checkOnOpen: "full" });
    try {
      const stored = store.listAll();
      checkAcknowledged(store, allAcked, allDeleted, `seed ${seed}`);
      // Nothing half written: every stored record, acknowledged or not, is complete and
      // reachable through each of its addresses.
      for (const rec of stored) {
        const id = Number(rec.containerId.slice("crash-".length));
        expect(rec, `seed ${seed}`).toEqual(crashRecord(id));
        for (const a of rec.addresses) {
          expect(store.getByAddress("default", a)?.containerId, `seed ${seed}`).toBe(
            rec.containerId,
          );
        }
      }
    } finally {
      store.close();
    }
    expect(killedWhileWriting).toBeGreaterThanOrEqual(50);
    expect(allAcked.length).toBeGreaterThan(0);
    expect(allDeleted.size).toBeGreaterThan(0);
  });
});
