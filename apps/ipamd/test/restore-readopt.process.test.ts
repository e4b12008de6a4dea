import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { Cidr, parseIp } from "@ipam/bitmap";
import {
  type ClusterClient,
  createClusterClient,
  createIpamClient,
  type IpamClient,
  ReadyState,
} from "@ipam/grpc-server";
import { afterAll, describe, expect, it } from "vitest";
import {
  freePort,
  type IpamdProcess,
  killAll,
  logsOf,
  POLL_RPC_MS,
  spawnIpamd,
  tempDir,
  waitFor,
} from "./helpers/processes.js";

// Issue 15, last point: after the documented disaster recovery (docs/operations.md, "Restoring
// a server": every server gone, one started from a backup with --restore-from as a new
// cluster), the cluster does not know the blocks an agent leased after the backup. The agent
// must not serve them while the cluster does not lease them to it, and must claim them back
// (claim-block) while they are free, so that its pods keep their addresses and no other node is
// ever leased a block whose addresses are in use.

const clients: Array<{ close(): void }> = [];
const procs: IpamdProcess[] = [];
afterAll(async () => {
  for (const c of clients) c.close();
  await killAll();
});

const TOR = "tor-a1-1";
const key = (containerId: string) => ({ network: "n", containerId, ifname: "eth0" });

function ipam(socket: string): IpamClient {
  const c = createIpamClient({ addresses: [`unix:${socket}`], maxAttempts: 1, deadlineMs: 30_000 });
  clients.push(c);
  return c;
}

async function waitReady(c: IpamClient): Promise<void> {
  await waitFor("the agent to be ready", async () => {
    const s = await c.status({}, { deadlineMs: 5000 });
    return s.state === ReadyState.READY && s.reason === "" ? true : undefined;
  }).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n${logsOf(procs)}`);
  });
}

function inside(address: string, cidr: string): boolean {
  return Cidr.parse(cidr).contains(parseIp(address));
}

describe("disaster restore from an older backup: agents re-claim their blocks", () => {
  it("the blocks leased after the backup go back to their agent; nobody else gets their addresses", async () => {
    const root = tempDir("ipamd-readopt");
    const address = `127.0.0.1:${await freePort()}`;
    const dataDir = join(root, "s1");
    const serverArgs = [
      ...["--role", "server", "--node-id", "s1", "--data-dir", dataDir],
      ...["--grpc-addr", address, "--metrics-addr", "off", "--election-ms", "500"],
      ...["--log-level", "info"],
    ];
    let server = spawnIpamd("s1", [...serverArgs, "--bootstrap"]);
    procs.push(server);
    const agent = (id: string) => {
      const p = spawnIpamd(id, [
        ...["--role", "agent", "--servers", address, "--node-id", id, "--tor", TOR],
        ...["--data-dir", join(root, id), "--unix-socket", join(root, `${id}.sock`)],
        ...["--metrics-addr", "off", "--log-level", "info"],
      ]);
      procs.push(p);
      return { proc: p, ipam: ipam(join(root, `${id}.sock`)) };
    };
    const l1: ClusterClient = createClusterClient({ addresses: [address], deadlineMs: 10_000 });
    clients.push(l1);
    const a = agent("agent-a");
    await waitReady(a.ipam);

    // Before the backup: 20 pods (the first /26 block). The documented live backup.
    const held = new Map<string, string>();
    for (let i = 0; i < 20; i++) {
      const r = await a.ipam.allocate(key(`a${i}`));
      held.set(`a${i}`, r.addresses[0]?.address ?? "");
    }
    const backupFile = join(root, "backup.db");
    execFileSync("sqlite3", [join(dataDir, "ipamd.db"), `.backup ${backupFile}`]);
    // After the backup: two pods with static addresses, in blocks the backup does not know and
    // that are not next to the first (the agent would otherwise lease them again by chance when
    // it runs low), and 20 more pods in the first block.
    for (const [id, addr] of [
      ["s0", "10.99.0.200"],
      ["s1", "10.99.1.10"],
    ] as const) {
      const r = await a.ipam.allocate({ ...key(id), requestedAddresses: [addr] });
      expect(r.addresses[0]?.address).toBe(addr);
      held.set(id, addr);
    }
    for (let i = 20; i < 40; i++) {
      const r = await a.ipam.allocate(key(`a${i}`));
      held.set(`a${i}`, r.addresses[0]?.address ?? "");
    }
    const blocksBefore = (await a.ipam.getNodeBlocks({})).blocks
      .filter((b) => b.subnetId === "tor-a1-1-default-v4")
      .map((b) => b.cidr)
      .sort();
    expect(blocksBefore).toEqual(["10.99.0.0/26", "10.99.0.192/26", "10.99.1.0/26"]);

    // The disaster: the server and its data dir are gone. Restore: --restore-from the backup.
    server.kill("SIGKILL");
    await server.exited();
    rmSync(dataDir, { recursive: true });
    server = spawnIpamd("s1'", [...serverArgs, "--restore-from", backupFile]);
    procs.push(server);
    await waitFor("the restored server to lead", async () => {
      const st = await l1.getStatus({}, { deadlineMs: POLL_RPC_MS });
      return st.leaderId === "s1" && st.notReadyReason === "" ? true : undefined;
    });

    // The agent claims every block back: the cluster leases them all to it again.
    await waitFor("the cluster to lease agent-a every block it serves", async () => {
      const leases = (
        await l1.getNodeLeases({ nodeId: "agent-a" }, { deadlineMs: POLL_RPC_MS })
      ).blocks
        .filter((b) => b.subnetId === "tor-a1-1-default-v4")
        .map((b) => `${b.cidr}:${b.state}`)
        .sort();
      return leases.join(",") === blocksBefore.map((b) => `${b}:leased`).join(",")
        ? true
        : undefined;
    }).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${logsOf([server, a.proc])}`);
    });
    await waitFor("the agent to log that it re-claimed a block", () =>
      a.proc.log.some((l) => l.includes("re-claimed a block")) ? true : undefined,
    );
    // Its pods kept their addresses, and it serves new pods again.
    for (const [id, addr] of held) {
      const c = await a.ipam.check({ ...key(id), addresses: [addr] });
      expect(c.ok, `${id} ${addr}: ${c.reason}`).toBe(true);
    }
    await a.ipam.allocate(key("a-after"));

    // Another node leasing many blocks never gets one of agent-a's: no address held twice.
    const b = agent("agent-b");
    await waitReady(b.ipam);
    for (let i = 0; i < 150; i++) {
      const r = await b.ipam.allocate(key(`b${i}`));
      const got = r.addresses[0]?.address ?? "";
      for (const cidr of blocksBefore) expect(inside(got, cidr), `${got} in ${cidr}`).toBe(false);
      expect([...held.values()]).not.toContain(got);
    }
  }, 300_000);
});
