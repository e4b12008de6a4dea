// ipamctl against an etcd-backed cluster: a real three-member etcd on loopback, two
// `ipamd --role server --cluster-store etcd` processes and two agents (apps/ipamd's etcd
// fixture), the built `ipamctl` run as a process for each command. Every command works as on a
// Raft cluster (same --json documents, checked against their schemas), except what has no
// meaning on etcd: transfer-leader is refused naming etcd and what to do instead; members lists
// the ipamd servers and says where etcd's members are; status names the store and its health.
import { Family, type IpamClient } from "@ipam/grpc-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentProc } from "../../ipamd/test/helpers/cluster-fixture.js";
import { killAllEtcd } from "../../ipamd/test/helpers/etcd.js";
import {
  type EtcdStoreFixture,
  startEtcdStoreCluster,
} from "../../ipamd/test/helpers/etcd-store-fixture.js";
import { killAll, tempDir, waitFor } from "../../ipamd/test/helpers/processes.js";
import { TOR } from "../../ipamd/test/helpers/servers.js";
import { allocateAsRuntime, validDoc } from "./helpers/documents.js";
import { type IpamctlRun, ipamctl, jsonOf } from "./helpers/ipamctl.js";
import { schemaErrors } from "./helpers/schemas.js";

let cluster: EtcdStoreFixture;
let a1: AgentProc;
let a2: AgentProc;
let env: Record<string, string>;

/** The JSON document of a run that must succeed, checked against its schema. */
function valid(run: IpamctlRun, kind: string): Record<string, unknown> {
  return validDoc(run, kind, cluster);
}

const allocate = allocateAsRuntime;

/** IPv4 addresses held on an agent, counted from its allocation records. */
async function heldV4(client: IpamClient): Promise<number> {
  const page = await client.listAllocations({ pageSize: 1000 });
  return page.allocations.flatMap((a) => a.addresses).filter((x) => x.family === Family.IPV4)
    .length;
}

const onServer = (i: number) => ["--server", cluster.servers[i]?.address ?? ""];

beforeAll(async () => {
  cluster = await startEtcdStoreCluster(tempDir("ipamctl-etcd"), { metrics: true });
  a1 = await cluster.startAgent("etcd-a1", TOR);
  a2 = await cluster.startAgent("etcd-a2", TOR);
  env = { IPAMD_SERVERS: cluster.servers.map((s) => s.address).join(",") };
}, 300_000);

afterAll(async () => {
  cluster?.close();
  await killAll();
  await killAllEtcd();
});

describe("ipamctl on an etcd-backed cluster: status, members, transfer-leader", () => {
  it("status names the etcd store and its health on each server, as JSON and as text", async () => {
    for (let i = 0; i < 2; i++) {
      const doc = valid(await ipamctl(["status", "--json", ...onServer(i)]), "ServerStatus");
      expect(doc).toMatchObject({ id: `s${i + 1}`, store: "etcd", ready: true });
      expect(doc.notReadyReason).toBeUndefined();
      const text = await ipamctl(["status", ...onServer(i)]);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toMatch(/^store\s+etcd: healthy \(etcd raft term \d+, revision \d+\)$/m);
      expect(text.stdout).toMatch(/^controller\s+s[12] 127\.0\.0\.1:\d+$/m);
      expect(text.stdout).toContain("etcdctl member list");
    }
  });

  it("members lists the two ipamd servers, marks the controller, and points to etcdctl for etcd's members", async () => {
    const run = await ipamctl(["members", "--json"], env);
    const doc = valid(run, "Members");
    const members = doc.members as { id: string; role: string }[];
    expect(members.map((m) => `${m.id} ${m.role}`).sort()).toEqual(["s1 server", "s2 server"]);
    expect((await cluster.l1.getLeader({})).leaderId).toBe(doc.leader);
    expect(run.stderr).toContain("etcdctl member list");
  });

  it("transfer-leader is refused naming etcd and what to do instead; nothing changes", async () => {
    const before = (await cluster.l1.getLeader({})).leaderId;
    const run = await ipamctl(["transfer-leader"], env);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toContain("the cluster store is etcd");
    expect(run.stderr).toContain("etcdctl move-leader");
    expect((await cluster.l1.getLeader({})).leaderId).toBe(before);
  });
});

describe("ipamctl on an etcd-backed cluster: show, history, forecast", () => {
  it("show counts what the agents hold; show --ip finds the holder on the other node", async () => {
    for (let i = 0; i < 4; i++) await allocate(a1, `show-a1-${i}`);
    const [found] = await allocate(a2, "find-me");
    const agents = ["--node", `unix:${a1.socket}`, "--node", `unix:${a2.socket}`];
    const tree = valid(await ipamctl(["show", "--json", ...agents], env), "Tree");
    const total = tree.total as Record<string, { held: string | null }>;
    expect(Number(total.ipv4?.held)).toBe((await heldV4(a1.ipam)) + (await heldV4(a2.ipam)));
    expect(tree.unreadNodes).toEqual([]);
    const where = valid(
      await ipamctl(["show", "--ip", found?.address ?? "", "--json", ...agents], env),
      "Address",
    );
    expect(where).toMatchObject({
      state: "held",
      node: "etcd-a2",
      holder: { containerId: "find-me", podName: "pod-find-me" },
    });
  });

  it("history answers on every server (agents ship to each); --at names the holder", async () => {
    const key = { network: "pods", containerId: "c-audit", ifname: "eth0" };
    const r = await a1.ipam.allocate({ ...key, podNamespace: "payments", podName: "api-7" });
    const address = r.addresses[0]?.address ?? "";
    await a1.ipam.release(key);
    for (let i = 0; i < 2; i++) {
      const doc = await waitFor(`both events on s${i + 1}`, async () => {
        const run = await ipamctl(["history", "--ip", address, "--json", ...onServer(i)]);
        const d = valid(run, "AddressHistory");
        return (d.events as unknown[]).length === 2 ? d : undefined;
      });
      const events = doc.events as { event: string; node: string; time: string }[];
      expect(events.map((e) => `${e.event} ${e.node}`)).toEqual([
        "allocate etcd-a1",
        "release etcd-a1",
      ]);
      const at = valid(
        await ipamctl([
          "history",
          "--ip",
          address,
          "--at",
          events[0]?.time ?? "",
          "--json",
          ...onServer(i),
        ]),
        "AddressHistory",
      );
      const holders = (at.at as { holders: { pod: { name: string } | null }[] }).holders;
      expect(holders.map((h) => h.pod?.name)).toEqual(["api-7"]);
    }
  });

  it("forecast answers with the allocations; the controller alone exports the forecast metric", async () => {
    for (let i = 0; i < 20; i++) await allocate(a2, `steady-${i}`);
    const args = ["forecast", "--tor", TOR, "--purpose", "default", "--family", "4", "--json"];
    const doc = await waitFor("the allocations in the forecast", async () => {
      const d = valid(await ipamctl(args, env), "Forecast");
      const e = (d.entries as { samples: number; held: string }[])[0];
      return e !== undefined && e.samples >= 20 && BigInt(e.held) >= 20n ? d : undefined;
    });
    const entry = (doc.entries as { fullInSeconds: number | null; tor: string }[])[0];
    expect(entry?.tor).toBe(TOR);
    expect(entry?.fullInSeconds).toBeGreaterThan(0);

    const series = async (port: number | undefined) => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return text.split("\n").filter((l) => l.startsWith("ipamd_pool_forecast_full_seconds{"));
    };
    const controller = (await cluster.l1.getLeader({})).leaderId;
    const mine = cluster.servers.findIndex((s) => s.id === controller);
    expect(mine).toBeGreaterThanOrEqual(0);
    const lines = await series(cluster.metricsPorts[mine]);
    expect(lines.some((l) => l.includes(`tor="${TOR}"`) && l.includes('purpose="default"'))).toBe(
      true,
    );
    expect(await series(cluster.metricsPorts[1 - mine])).toEqual([]);
  });
});

describe("ipamctl on an etcd-backed cluster: subnets, reservations, release, nodes, check", () => {
  it("subnet add/list/drain --wait/remove and reserve/unreserve work as on Raft", async () => {
    valid(
      await ipamctl(
        [
          "subnet",
          "add",
          "etcd-red",
          "10.99.40.0/26",
          "--purpose",
          "red",
          "--scope",
          TOR,
          "--block-prefix",
          "28",
          "--cooldown",
          "1",
          "--json",
        ],
        env,
      ),
      "SubnetAdded",
    );
    await allocate(a1, "red-1", "red");
    const list = valid(
      await ipamctl(["subnet", "list", "--purpose", "red", "--json"], env),
      "SubnetList",
    );
    // Leased: the addresses of the /28 block that can be handed out, as its agent counts them.
    const blocks = await a1.ipam.getNodeBlocks({ subnetId: "etcd-red", purpose: "" });
    const blockCapacity = blocks.blocks.reduce((n, b) => n + BigInt(b.capacity), 0n);
    expect(blockCapacity).toBeLessThan(16n);
    expect(list.subnets).toMatchObject([
      { id: "etcd-red", blocksLeased: 1, leased: String(blockCapacity) },
    ]);
    const refused = await ipamctl(["subnet", "remove", "etcd-red"], env);
    expect(refused.code, refused.stderr).toBe(5);
    const draining = ipamctl(
      ["subnet", "drain", "etcd-red", "--wait", "--interval", "1", "--json"],
      env,
    );
    await waitFor("etcd-red to be draining", async () => {
      const r = await cluster.l1.listBlocks({ subnetId: "etcd-red" });
      return r.blocks.length > 0 && r.blocks.every((b) => b.state === "draining") ? r : undefined;
    });
    await a1.ipam.release({ network: "net", containerId: "red-1", ifname: "eth0" });
    expect(valid(await draining, "SubnetDrain")).toMatchObject({ done: true, addressesHeld: "0" });
    expect(
      valid(await ipamctl(["subnet", "remove", "etcd-red", "--json"], env), "SubnetRemove"),
    ).toMatchObject({ existed: true, removing: false });

    // Direct mode, 10.99.43.0/29: .1 is the gateway, .2-.6 can be handed out.
    valid(
      await ipamctl(
        [
          "subnet",
          "add",
          "etcd-mgmt",
          "10.99.43.0/29",
          "--purpose",
          "mgmt",
          "--scope",
          TOR,
          "--block-prefix",
          "32",
          "--json",
        ],
        env,
      ),
      "SubnetAdded",
    );
    valid(
      await ipamctl(["reserve", "10.99.43.2-10.99.43.5", "--reason", "switch", "--json"], env),
      "Reservation",
    );
    const [only] = await allocate(a2, "mgmt-1", "mgmt");
    expect(only?.address).toBe("10.99.43.6");
    expect((await ipamctl(["reserve", "10.99.43.6"], env)).code).toBe(5);
    valid(await ipamctl(["unreserve", "10.99.43.2-10.99.43.5", "--json"], env), "Unreservation");
    const [next] = await allocate(a2, "mgmt-2", "mgmt");
    expect(next?.address).toBe("10.99.43.2");
  }, 240_000);

  it("release refuses a live holder and releases with --force", async () => {
    const [held] = await allocate(a2, "rel-1");
    const agent = ["--node", `unix:${a2.socket}`];
    const refused = await ipamctl(["release", "--ip", held?.address ?? "", ...agent], env);
    expect(refused.code, refused.stderr).toBe(5);
    expect(refused.stderr).toContain("--force");
    const forced = valid(
      await ipamctl(["release", "--ip", held?.address ?? "", "--force", "--json", ...agent], env),
      "Release",
    );
    expect(forced).toMatchObject({ released: [held?.address] });
    const gone = valid(
      await ipamctl(["show", "--ip", held?.address ?? "", "--json", ...agent], env),
      "Address",
    );
    expect(gone.state).toBe("not-held");
  });

  it("node list/drain/remove, and check finds a dead node that repair frees", async () => {
    const nodes = valid(await ipamctl(["node", "list", "--tor", TOR, "--json"], env), "NodeList");
    const listed = nodes.nodes as { id: string; blocks: Record<string, number> }[];
    expect(listed.find((n) => n.id === "etcd-a1")?.blocks.leased).toBeGreaterThan(0);
    const refused = await ipamctl(["node", "remove", "etcd-a1"], env);
    expect(refused.code, refused.stderr).toBe(5);
    expect(refused.stderr).toContain("ipamctl node drain etcd-a1 --wait");

    // A node that holds nothing drains and is removed at once.
    await cluster.l1.registerNode({ nodeId: "etcd-idle", torId: TOR });
    const drained = valid(
      await ipamctl(["node", "drain", "etcd-idle", "--wait", "--json"], env),
      "NodeDrain",
    );
    expect(drained).toMatchObject({ node: "etcd-idle", removed: true });

    // A dead node's blocks: etcd-a3 leases a block, then is SIGKILLed.
    const a3 = await cluster.startAgent("etcd-a3", TOR);
    await allocate(a3, "a3-pod");
    const a3Blocks = (await cluster.l1.listBlocks({ nodeId: "etcd-a3" })).blocks.map((b) => b.cidr);
    expect(a3Blocks.length).toBeGreaterThan(0);
    a3.proc.kill("SIGKILL");
    await a3.proc.exited();
    const before1 = await heldV4(a1.ipam);
    const agents = [
      "--node",
      `etcd-a1=unix:${a1.socket}`,
      "--node",
      `etcd-a2=unix:${a2.socket}`,
      "--node",
      `etcd-a3=unix:${a3.socket}`,
      "--timeout",
      "5",
    ];
    const reportFile = `${cluster.root}/report.json`;
    const check = await ipamctl(["check", "--json", "--output", reportFile, ...agents], env);
    expect(check.code, check.stderr).toBe(3);
    const report = jsonOf(check);
    expect(schemaErrors(report)).toBe("");
    const findings = report.findings as { type: string; node: string }[];
    expect(findings.map((f) => `${f.type} ${f.node}`)).toEqual(["dead-node etcd-a3"]);
    const repair = valid(
      await ipamctl(["repair", "--from-report", reportFile, "--json", ...agents], env),
      "RepairResult",
    );
    expect((repair.outcomes as { outcome: string }[]).map((o) => o.outcome)).toEqual(["repaired"]);
    expect((await cluster.l1.listBlocks({ nodeId: "etcd-a3" })).blocks).toEqual([]);
    expect(await heldV4(a1.ipam)).toBe(before1);
  }, 240_000);
});
