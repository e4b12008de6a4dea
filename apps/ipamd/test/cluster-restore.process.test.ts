import { execFileSync } from "node:child_process";
import { cpSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import {
  type ClusterClient,
  createClusterClient,
  Family,
  type GetStatusResponse,
  MemberRole,
  RaftRole,
} from "@ipam/grpc-server";
import { exampleTopology } from "@ipam/topology";
import { afterAll, describe, expect, it, onTestFinished } from "vitest";
import {
  ensureEnded,
  freePort,
  type IpamdProcess,
  killAll,
  logsOf,
  RETRY_ATTEMPTS,
  runIpamdCommand,
  spawnIpamd,
  tempDir,
  waitFor,
} from "./helpers/processes.js";

// docs/operations.md "Restoring a server" and "A removed server", followed step by step on real
// `ipamd --role server` processes (SQLite data dirs, gRPC over loopback, SIGKILL/SIGTERM by PID).
// Backups are taken with the documented command (`sqlite3 ipamd.db ".backup ..."`).

const ELECTION_MS = 500;
// Deadlines of one RPC. Generous: on a loaded 2-core machine a server that is starting, catching
// up or electing can take seconds to answer one call; a poll retries until its own deadline.
const READ_MS = 15_000;
const WRITE_MS = 30_000;
// The backstop of each test (several waits of up to 120 s each, `waitFor`'s default).
const TEST_MS = 600_000;
const TOR = [...exampleTopology().tors.keys()][0] ?? "";

interface Server {
  readonly id: string;
  readonly address: string;
  readonly metricsPort: number;
  readonly dataDir: string;
  proc: IpamdProcess;
  readonly client: ClusterClient;
}

const clients: ClusterClient[] = [];

function client(addresses: readonly string[]): ClusterClient {
  const c = createClusterClient({ addresses, deadlineMs: WRITE_MS, maxAttempts: RETRY_ATTEMPTS });
  clients.push(c);
  return c;
}

function serverArgs(s: Pick<Server, "id" | "address" | "dataDir" | "metricsPort">) {
  return [
    "--role",
    "server",
    "--node-id",
    s.id,
    "--data-dir",
    s.dataDir,
    "--grpc-addr",
    s.address,
    "--metrics-addr",
    `127.0.0.1:${s.metricsPort}`,
    "--election-ms",
    String(ELECTION_MS),
    "--log-level",
    "info",
  ];
}

async function newServer(id: string, root: string, extra: readonly string[]): Promise<Server> {
  const address = `127.0.0.1:${await freePort()}`;
  const metricsPort = await freePort();
  const dataDir = join(root, id);
  const proc = spawnIpamd(id, [...serverArgs({ id, address, dataDir, metricsPort }), ...extra]);
  return { id, address, metricsPort, dataDir, proc, client: client([address]) };
}

function start(s: Server, extra: readonly string[] = []): void {
  s.proc = spawnIpamd(`${s.id}'`, [...serverArgs(s), ...extra]);
}

async function stop(s: Server): Promise<void> {
  s.proc.kill("SIGTERM");
  expect(await s.proc.exited()).toBe(0);
}

async function statuses(servers: readonly Server[]): Promise<GetStatusResponse[]> {
  return Promise.all(servers.map((s) => s.client.getStatus({}, { deadlineMs: READ_MS })));
}

/**
 * Bootstraps s1, joins s2 and s3 to it (appended to `servers`, which must be empty) and waits for
 * the group of three; returns s1.
 */
async function formGroupOfThree(servers: Server[], root: string): Promise<Server> {
  const s1 = await newServer("s1", root, ["--bootstrap"]);
  servers.push(s1);
  await waitForGroup(servers, ["s1"]);
  servers.push(await newServer("s2", root, ["--join", s1.address]));
  servers.push(await newServer("s3", root, ["--join", s1.address]));
  await waitForGroup(servers, ["s1", "s2", "s3"]);
  return s1;
}

/** Waits until `servers` agree on one leader, list exactly `voters` and are all ready. */
async function waitForGroup(servers: readonly Server[], voters: readonly string[]) {
  return waitFor(
    `a leader, voters ${voters.join(",")} and every server ready on ${servers.map((s) => s.id).join(",")}`,
    async () => {
      const all = await statuses(servers);
      const leader = all[0]?.leaderId ?? "";
      if (leader === "" || !all.every((st) => st.leaderId === leader)) return undefined;
      if (all.filter((st) => st.role === RaftRole.LEADER).length !== 1) return undefined;
      if (!all.every((st) => st.notReadyReason === "")) return undefined;
      for (const st of all) {
        const v = st.members
          .filter((m) => m.role === MemberRole.VOTER)
          .map((m) => m.id)
          .sort();
        if (v.join(",") !== [...voters].sort().join(",")) return undefined;
      }
      return all;
    },
    // A (re)joining server is promoted only after elections settle: at load 37 s3's promotion
    // took over 120 s (terms 4 to 7). A backstop, within the test's TEST_MS.
    { timeoutMs: 240_000 },
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n${logsOf(servers.map((s) => s.proc))}`);
  });
}

async function readyz(s: Server): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${s.metricsPort}/readyz`);
  return { status: res.status, body: await res.text() };
}

async function metric(s: Server, name: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${s.metricsPort}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(" ")[1]);
}

/** The documented backup: `sqlite3 <data-dir>/ipamd.db ".backup <file>"`, live. */
function backup(s: Server, file: string): void {
  execFileSync("sqlite3", [join(s.dataDir, "ipamd.db"), `.backup ${file}`]);
}

/** Puts a backup back the old (wrong) way: the database file replaced, the rest left. */
function putBack(s: Server, file: string): void {
  for (const f of readdirSync(s.dataDir)) {
    if (f.startsWith("ipamd.db")) rmSync(join(s.dataDir, f));
  }
  cpSync(file, join(s.dataDir, "ipamd.db"));
}

const errorLines = (p: IpamdProcess, text: string) =>
  p.log.filter((l) => l.includes(text) && l.includes('"level":50'));

afterAll(async () => {
  for (const c of clients) c.close();
  await killAll();
});

describe("restoring a server and removed servers (docs/operations.md)", () => {
  const root = tempDir("ipamd-restore");
  const servers: Server[] = [];
  const any = () => client(servers.map((s) => s.address));
  const lease = (requestId: string) =>
    any().leaseBlock(
      { nodeId: "node-a", purpose: "default", family: Family.IPV4, requestId },
      { deadlineMs: WRITE_MS },
    );
  const blocksOn = async (s: Server) =>
    (await s.client.listBlocks({ nodeId: "node-a", allowStale: true }, { deadlineMs: READ_MS }))
      .blocks;
  const backupFile = join(root, "s3-backup.db");
  const s3Current = join(root, "s3-current");

  it(
    "a backup of ipamd.db put back on a server is refused at start, naming the procedure",
    async () => {
      await formGroupOfThree(servers, root);
      await any().registerNode({ nodeId: "node-a", torId: TOR });
      await lease("before-backup");
      const s3 = servers[2] as Server;
      await waitFor("s3 to hold the first lease", async () =>
        (await blocksOn(s3)).length === 1 ? true : undefined,
      );
      backup(s3, backupFile);
      // The cluster moves on after the backup (and terms move on: a leader change).
      await lease("after-backup-1");
      await lease("after-backup-2");
      await waitFor("s3 to hold all three leases", async () =>
        (await blocksOn(s3)).length === 3 ? true : undefined,
      );
      await stop(s3);
      cpSync(s3.dataDir, s3Current, { recursive: true });

      putBack(s3, backupFile);
      start(s3);
      expect(await s3.proc.exited()).not.toBe(0);
      const log = s3.proc.log.join("\n");
      expect(log).toContain("the Raft state in ipamd.db went backwards");
      expect(log).toContain("ipamd cluster leave --node-id s3");
      expect(log).toContain("--join");
    },
    TEST_MS,
  );

  it(
    "a server restored with its watermark deleted as well never reports ready: it says it is not catching up",
    async () => {
      const s3 = servers[2] as Server;
      rmSync(join(s3.dataDir, "raft-watermark.json"));
      start(s3);
      onTestFinished(() => ensureEnded(s3.proc));
      const st = await waitFor("s3 to say it is not catching up", async () => {
        const r = await s3.client.getStatus({}, { deadlineMs: READ_MS });
        return r.notReadyReason.includes("not catching up") ? r : undefined;
      }).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}\n${logsOf([s3.proc])}`);
      });
      expect(st.leaderCommitIndex).toBeGreaterThan(st.appliedIndex);
      const r = await readyz(s3);
      expect(r.status).toBe(503);
      expect(r.body).toContain("not catching up");
      await stop(s3);
    },
    TEST_MS,
  );

  it(
    "a removed server started on its old data dir says it was removed, once, and stops taking part",
    async () => {
      const [s1, s2, s3] = servers as [Server, Server, Server];
      // Step 1 of the documented restore, then the mistake: s3 started on its old data dir.
      const left = await runIpamdCommand([
        "cluster",
        "leave",
        "--node-id",
        "s3",
        "--server",
        s1.address,
      ]);
      expect(left.code, left.stderr).toBe(0);
      await waitForGroup([s1, s2], ["s1", "s2"]);
      rmSync(s3.dataDir, { recursive: true });
      cpSync(s3Current, s3.dataDir, { recursive: true });
      start(s3);
      onTestFinished(() => ensureEnded(s3.proc));
      const st = await waitFor("s3 to report its removal", async () => {
        const r = await s3.client.getStatus({}, { deadlineMs: READ_MS });
        return r.removed ? r : undefined;
      }).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}\n${logsOf([s3.proc])}`);
      });
      expect(st.notReadyReason).toContain("removed from cluster");
      expect(st.notReadyReason).toContain("wipe --data-dir and --join");
      const r = await readyz(s3);
      expect(r.status).toBe(503);
      expect(r.body).toContain("removed from cluster");
      expect(await metric(s3, "ipamd_raft_removed")).toBe(1);
      // The group is not disturbed: it writes, and s3's term stays where it stopped.
      const termThen = st.term;
      await lease("while-s3-removed");
      await waitForGroup([s1, s2], ["s1", "s2"]);
      const later = await s3.client.getStatus({}, { deadlineMs: READ_MS });
      expect(later.term).toBe(termThen);
      expect(later.role).not.toBe(RaftRole.LEADER);
      // The error line is written when s3 learns of its removal; awaited (stderr is read
      // asynchronously), then it must stay the only one.
      await waitFor("s3's error line saying it was removed", () =>
        errorLines(s3.proc, "removed from cluster").length > 0 ? true : undefined,
      );
      expect(errorLines(s3.proc, "removed from cluster")).toHaveLength(1);
      expect(errorLines(s3.proc, "removed from cluster")[0]).toContain("--join");

      // Restarted again: it knows at once (no peer needed) and idles the same way.
      await stop(s3);
      start(s3);
      onTestFinished(() => ensureEnded(s3.proc));
      await waitFor("s3 to report its removal after a restart", async () =>
        (await s3.client.getStatus({}, { deadlineMs: READ_MS })).removed ? true : undefined,
      );
      await waitFor("s3's error line saying it was removed, after a restart", () =>
        errorLines(s3.proc, "removed from cluster").length > 0 ? true : undefined,
      );
      expect(errorLines(s3.proc, "removed from cluster")).toHaveLength(1);
      await stop(s3);
    },
    TEST_MS,
  );

  it(
    "the documented restore of one server: leave (done), empty the data dir, --join; it catches up and is ready",
    async () => {
      const [s1, s2, s3] = servers as [Server, Server, Server];
      rmSync(s3.dataDir, { recursive: true });
      start(s3, ["--join", `${s1.address},${s2.address}`]);
      await waitForGroup(servers, ["s1", "s2", "s3"]);
      const blocks = await waitFor("s3 to hold every lease", async () => {
        const b = await blocksOn(s3);
        return b.length === 4 ? b : undefined;
      });
      expect(blocks.map((b) => b.cidr).sort()).toEqual(
        (await blocksOn(s1)).map((b) => b.cidr).sort(),
      );
      // A linearizable read through s3 answers (it would time out on a server that is stuck).
      const fresh = await s3.client.listBlocks({ nodeId: "node-a" }, { deadlineMs: WRITE_MS });
      expect(fresh.blocks).toHaveLength(4);
      expect((await readyz(s3)).status).toBe(200);
      // And the group survives losing another server: quorum is s3 plus one.
      await stop(s2);
      await lease("after-restore");
      start(s2);
      await waitForGroup(servers, ["s1", "s2", "s3"]);
    },
    TEST_MS,
  );
});

describe("disaster recovery: quorum lost, a new cluster from a backup (docs/operations.md)", () => {
  const root = tempDir("ipamd-dr");
  const servers: Server[] = [];
  const any = () => client(servers.map((s) => s.address));
  const lease = (requestId: string) =>
    any().leaseBlock(
      { nodeId: "node-a", purpose: "default", family: Family.IPV4, requestId },
      { deadlineMs: WRITE_MS },
    );

  it(
    "--restore-from starts a new single-server cluster from the backup; the others join it with empty data dirs",
    async () => {
      const s1 = await formGroupOfThree(servers, root);
      const oldId = (await s1.client.getStatus({})).clusterId;
      await any().registerNode({ nodeId: "node-a", torId: TOR });
      const kept = await lease("in-the-backup");
      const backupFile = join(root, "backup.db");
      backup(s1, backupFile);
      const lost = await lease("after-the-backup");
      // The disaster: every server gone, their data dirs with them.
      for (const s of servers) {
        s.proc.kill("SIGKILL");
        await s.proc.exited();
        rmSync(s.dataDir, { recursive: true });
      }
      // Step 1: one server from the backup, as a new cluster.
      start(s1, ["--restore-from", backupFile]);
      await waitForGroup([s1], ["s1"]);
      const st = await s1.client.getStatus({});
      expect(st.clusterId).not.toBe(oldId);
      await waitFor("s1 to log that it restored a backup as a new cluster", () =>
        s1.proc.log.some((l) => l.includes("restored from a backup as a NEW cluster"))
          ? true
          : undefined,
      );
      // Step 2: the others with empty data dirs, --join.
      const [, s2, s3] = servers as [Server, Server, Server];
      start(s2, ["--join", s1.address]);
      start(s3, ["--join", `${s1.address},${s2.address}`]);
      await waitForGroup(servers, ["s1", "s2", "s3"]);
      // The state is the backup's: its lease is there, the later one is not.
      for (const s of servers) {
        const blocks = await waitFor(`${s.id} to hold the backup's lease`, async () => {
          const b = (await s.client.listBlocks({ nodeId: "node-a", allowStale: true })).blocks;
          return b.length === 1 ? b : undefined;
        });
        expect(blocks.map((b) => b.cidr)).toEqual([kept.block?.cidr]);
      }
      expect(lost.block?.cidr).not.toBe(kept.block?.cidr);
      // A restart with the same flags resumes the restored cluster (--restore-from ignored).
      await stop(s1);
      start(s1, ["--restore-from", backupFile]);
      await waitForGroup(servers, ["s1", "s2", "s3"]);
      expect((await s1.client.getStatus({})).clusterId).toBe(st.clusterId);
      await waitFor("s1 to log that --restore-from is ignored on a restart", () =>
        s1.proc.log.some((l) => l.includes("--restore-from ignored")) ? true : undefined,
      );
      // And it writes.
      expect((await lease("after-the-restore")).block?.cidr).toMatch(/^10\.99\./);
    },
    TEST_MS,
  );
});
