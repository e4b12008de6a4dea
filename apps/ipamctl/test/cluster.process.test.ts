// ipamctl against a real cluster: three `ipamd --role server` processes and two agents on
// loopback (apps/ipamd's fixture), the built `ipamctl` run as a process for each command, and
// every --json document checked against its schema (docs/ipamctl/schemas).
import { createClusterClient, Family, type IpamClient } from "@ipam/grpc-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AgentProc,
  type ClusterFixture,
  startCluster,
} from "../../ipamd/test/helpers/cluster-fixture.js";
import { startKubeStandIn } from "../../ipamd/test/helpers/kube-stand-in.js";
import {
  killAll,
  POLL_RPC_MS,
  runIpamdCommand,
  tempDir,
  waitFor,
} from "../../ipamd/test/helpers/processes.js";
import { TOR } from "../../ipamd/test/helpers/servers.js";
import { allocateAsRuntime, validDoc } from "./helpers/documents.js";
import { type IpamctlRun, ipamctl, jsonOf } from "./helpers/ipamctl.js";
import { schemaErrors } from "./helpers/schemas.js";

let cluster: ClusterFixture;
let a1: AgentProc;
let a2: AgentProc;
let env: Record<string, string>;

/** The JSON document of a run that must succeed, checked against its schema. */
function valid(run: IpamctlRun, kind: string): Record<string, unknown> {
  return validDoc(run, kind, cluster);
}

const allocate = allocateAsRuntime;

/** Addresses held on an agent per family, counted from its allocation records. */
async function heldOn(client: IpamClient): Promise<{ ipv4: number; ipv6: number }> {
  const out = { ipv4: 0, ipv6: 0 };
  // Read here on its own (not through ipamctl's code): one page holds this test's records.
  const page = await client.listAllocations({
    network: "",
    purpose: "",
    pageSize: 1000,
    pageToken: "",
  });
  expect(page.nextPageToken).toBe("");
  for (const a of page.allocations) {
    for (const x of a.addresses) out[x.family === Family.IPV6 ? "ipv6" : "ipv4"] += 1;
  }
  return out;
}

beforeAll(async () => {
  cluster = await startCluster(tempDir("ipamctl-cluster"));
  a1 = await cluster.startAgent("ctl-a1", TOR);
  a2 = await cluster.startAgent("ctl-a2", TOR);
  env = { IPAMD_SERVERS: cluster.servers.map((s) => s.address).join(",") };
}, 180_000);

afterAll(async () => {
  cluster?.close();
  await killAll();
});

describe("ipamctl members", () => {
  it("lists the three servers and marks the leader, as JSON and as a table", async () => {
    // Under heavy load leadership can move between two reads: wait for ipamctl's answer and the
    // fixture's own GetLeader (read after it) to agree.
    const doc = await waitFor("ipamctl members to name the current leader", async () => {
      const d = valid(await ipamctl(["members", "--json"], env), "Members");
      const now = await cluster.l1.getLeader({});
      return d.leader === now.leaderId && now.leaderId !== "" ? d : undefined;
    });
    const leader = { id: String(doc.leader) };
    const members = doc.members as { id: string; address: string; role: string }[];
    expect(members.map((m) => m.id).sort()).toEqual(["s1", "s2", "s3"]);
    expect(new Set(members.map((m) => m.address))).toEqual(
      new Set(cluster.servers.map((s) => s.address)),
    );
    const table = await ipamctl(["members", "--server", env.IPAMD_SERVERS ?? ""]);
    expect(table.code, table.stderr).toBe(0);
    const leaderLine = table.stdout.split("\n").find((l) => l.startsWith(leader.id));
    expect(leaderLine).toMatch(/voter\s+\*$/);
    valid(await ipamctl(["status", "--json"], env), "ServerStatus");
  });

  it("ipamd's own cluster commands still answer, with a deprecation note naming ipamctl", async () => {
    const old = await runIpamdCommand(["cluster", "members", "--server", env.IPAMD_SERVERS ?? ""]);
    expect(old.code, old.stderr).toBe(0);
    expect(old.stderr).toContain("deprecated, use `ipamctl members`");
    expect((JSON.parse(old.stdout) as { members: unknown[] }).members).toHaveLength(3);
  });

  it("exits 4 naming the servers when none answers", async () => {
    const run = await ipamctl(["members", "--server", "127.0.0.1:1", "--timeout", "2"]);
    expect(run.code, run.stderr).toBe(4);
    expect(run.stderr).toContain("cannot reach the servers 127.0.0.1:1");
  });
});

describe("ipamctl show", () => {
  it("counts held addresses per family exactly as the agents hold them, at every level", async () => {
    for (let i = 0; i < 5; i++) await allocate(a1, `show-a1-${i}`);
    for (let i = 0; i < 3; i++) await allocate(a2, `show-a2-${i}`);
    const want1 = await heldOn(a1.ipam);
    const want2 = await heldOn(a2.ipam);
    const agents = ["--node", `unix:${a1.socket}`, "--node", `unix:${a2.socket}`];
    const doc = valid(await ipamctl(["show", "--json", ...agents], env), "Tree");
    const total = doc.total as Record<string, { held: string | null }>;
    expect(Number(total.ipv4?.held)).toBe(want1.ipv4 + want2.ipv4);
    expect(Number(total.ipv6?.held ?? "0")).toBe(want1.ipv6 + want2.ipv6);
    expect(doc.unreadNodes).toEqual([]);
    // The TOR's own row, and each node's: the same numbers, measured per agent.
    type T = {
      id: string;
      counts: Record<string, { held: string | null }>;
      nodes: { id: string; held: Record<string, string> | null }[];
    };
    const zones = doc.zones as { pods: { tors: T[] }[] }[];
    const tor = zones.flatMap((z) => z.pods.flatMap((p) => p.tors)).find((t) => t.id === TOR);
    expect(Number(tor?.counts.ipv4?.held)).toBe(want1.ipv4 + want2.ipv4);
    const node = (id: string) => tor?.nodes.find((n) => n.id === id)?.held;
    expect(Number(node("ctl-a1")?.ipv4)).toBe(want1.ipv4);
    expect(Number(node("ctl-a2")?.ipv4)).toBe(want2.ipv4);

    // Without ctl-a2's agent its blocks' held count is unknown, never a guess.
    const partial = valid(
      await ipamctl(["show", "--json", "--unix-socket", a1.socket, "--tor", TOR], env),
      "Tree",
    );
    expect(partial.unreadNodes).toEqual(["ctl-a2"]);
    expect((partial.total as Record<string, { held: string | null }>).ipv4?.held).toBeNull();

    const text = await ipamctl(["show", "--blocks", ...agents, "--family", "ipv4"], env);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`tor ${TOR}`);
    expect(text.stdout).toMatch(/→ ctl-a1/);
  });

  it("shows cooling addresses in their own column, as the agents count them, and each purpose's strategy", async () => {
    await allocate(a1, "cool-1");
    await a1.ipam.release({ network: "net", containerId: "cool-1", ifname: "eth0" });
    const agents = ["--node", `unix:${a1.socket}`, "--node", `unix:${a2.socket}`];
    // Cooling per family on the agents, read here on their own (GetNodeBlocks), before and after
    // ipamctl's run: a cool-down ending in between makes the reading retry, never pass wrongly.
    const coolingOn = async () => {
      let n = 0n;
      for (const a of [a1, a2]) {
        for (const b of (await a.ipam.getNodeBlocks({ subnetId: "", purpose: "" })).blocks) {
          if (b.family === Family.IPV4) n += b.coolingDown;
        }
      }
      return n;
    };
    type Sub = { id: string; strategy: string; strategyOverride: boolean; origin: string };
    const doc = await waitFor("a steady reading of the cooling addresses", async () => {
      const before = await coolingOn();
      const d = valid(await ipamctl(["show", "--json", ...agents], env), "Tree");
      const after = await coolingOn();
      const total = d.total as Record<string, { cooling: string | null }>;
      return before === after && before > 0n && total.ipv4?.cooling === String(before)
        ? d
        : undefined;
    });
    expect(doc.purposes).toContainEqual({ purpose: "default", strategy: "zone" });
    const zones = doc.zones as { pods: { tors: { subnets: Sub[] }[] }[] }[];
    const subnets = zones.flatMap((z) => z.pods.flatMap((p) => p.tors.flatMap((t) => t.subnets)));
    expect(subnets.length).toBeGreaterThan(0);
    for (const sub of subnets) {
      expect(sub).toMatchObject({ strategy: "zone", strategyOverride: false, origin: "file" });
    }
    const text = await ipamctl(["show", ...agents, "--family", "ipv4"], env);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/COOLING/);
    expect(text.stdout).toContain("strategy: default zone");
  });

  it("--ip finds an address allocated on another node: its node, container and pod", async () => {
    const [addr] = await allocate(a2, "find-me");
    expect(addr).toBeDefined();
    const run = await ipamctl(
      [
        "show",
        "--ip",
        addr?.address ?? "",
        "--json",
        "--unix-socket",
        a1.socket,
        "--node",
        `unix:${a2.socket}`,
      ],
      env,
    );
    const doc = valid(run, "Address");
    expect(doc).toMatchObject({
      address: addr?.address,
      state: "held",
      node: "ctl-a2",
      block: addr?.blockCidr,
      subnet: { id: addr?.subnetId },
      holder: { containerId: "find-me", podNamespace: "team", podName: "pod-find-me" },
    });
    await a2.ipam.release({ network: "net", containerId: "find-me", ifname: "eth0" });
    const after = valid(
      await ipamctl(
        ["show", "--ip", addr?.address ?? "", "--json", "--node", `unix:${a2.socket}`],
        env,
      ),
      "Address",
    );
    expect(after.state).toBe("not-held");
    const outside = await ipamctl(["show", "--ip", "192.0.2.1", "--json"], env);
    expect(outside.code, outside.stderr).toBe(6);
    expect(jsonOf(outside).state).toBe("outside");
  });
});

describe("ipamctl reserve and unreserve", () => {
  it("keeps a reserved range out of allocation, refuses one over an allocated address, and ends it", async () => {
    // Direct mode, 10.99.43.0/29: .1 is the gateway, .2-.6 can be handed out.
    valid(
      await ipamctl(
        [
          "subnet",
          "add",
          "ctl-mgmt",
          "10.99.43.0/29",
          "--purpose",
          "mgmt2",
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
    const reserved = valid(
      await ipamctl(["reserve", "10.99.43.2-10.99.43.5", "--reason", "switch mgmt", "--json"], env),
      "Reservation",
    );
    expect(reserved.reservation).toMatchObject({ subnet: "ctl-mgmt", reason: "switch mgmt" });
    const listed = valid(await ipamctl(["reserve", "list", "--json"], env), "ReservationList");
    expect(listed.reservations).toEqual([reserved.reservation]);
    const listText = await ipamctl(["reserve", "list", "--subnet", "ctl-mgmt"], env);
    expect(listText.code, listText.stderr).toBe(0);
    expect(listText.stdout).toMatch(/ctl-mgmt\s+10\.99\.43\.2-10\.99\.43\.5\s.*switch mgmt/);
    const [only] = await allocate(a1, "mgmt-1", "mgmt2");
    expect(only?.address).toBe("10.99.43.6");
    await expect(allocate(a1, "mgmt-2", "mgmt2")).rejects.toMatchObject({ code: "POOL_EXHAUSTED" });
    const conflict = await ipamctl(["reserve", "10.99.43.6"], env);
    expect(conflict.code, conflict.stderr).toBe(5);
    const ended = valid(
      await ipamctl(["unreserve", "10.99.43.2-10.99.43.5", "--json"], env),
      "Unreservation",
    );
    expect(ended.reservation).toMatchObject({ subnet: "ctl-mgmt" });
    const none = valid(
      await ipamctl(["reserve", "list", "--subnet", "ctl-mgmt", "--json"], env),
      "ReservationList",
    );
    expect(none.reservations).toEqual([]);
    const [next] = await allocate(a1, "mgmt-3", "mgmt2");
    expect(next?.address).toBe("10.99.43.2");
    const again = await ipamctl(["unreserve", "10.99.43.2-10.99.43.5"], env);
    expect(again.code, again.stderr).toBe(6);
    const outside = await ipamctl(["reserve", "192.0.2.0/30"], env);
    expect(outside.code, outside.stderr).toBe(2);
    expect(outside.stderr).toContain("--subnet");
  });
});

describe("ipamctl release", () => {
  it("refuses while a live record holds the address, releases with --force, by --ip or --container", async () => {
    const [held] = await allocate(a2, "rel-1");
    const agent = ["--node", `unix:${a2.socket}`];
    const refused = await ipamctl(["release", "--ip", held?.address ?? "", ...agent], env);
    expect(refused.code, refused.stderr).toBe(5);
    expect(refused.stderr).toContain("net/rel-1/eth0");
    expect(refused.stderr).toContain("--force");
    expect((await heldOn(a2.ipam)).ipv4).toBeGreaterThan(0);
    const forced = valid(
      await ipamctl(["release", "--ip", held?.address ?? "", "--force", "--json", ...agent], env),
      "Release",
    );
    expect(forced).toMatchObject({ released: [held?.address], holders: ["net/rel-1/eth0"] });
    const gone = valid(
      await ipamctl(["show", "--ip", held?.address ?? "", "--json", ...agent], env),
      "Address",
    );
    expect(gone.state).toBe("not-held");

    const [other] = await allocate(a2, "rel-2");
    const byContainer = ["release", "--container", "rel-2", "--json", ...agent];
    expect((await ipamctl(byContainer, env)).code).toBe(5);
    const released = valid(await ipamctl([...byContainer, "--force"], env), "Release");
    expect(released.released).toEqual([other?.address]);
    const none = await ipamctl(["release", "--ip", "10.99.0.1", "--container", "x"], env);
    expect(none.code, none.stderr).toBe(2);
  });
});

describe("ipamctl subnet and node", () => {
  it("adds a subnet, lists it, and drain --wait follows it until its last address is released", async () => {
    const added = valid(
      await ipamctl(
        [
          "subnet",
          "add",
          "ctl-red",
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
    expect(added.subnet).toMatchObject({ id: "ctl-red", cidr: "10.99.40.0/26", mode: "block" });
    await allocate(a1, "red-1", "red");
    await allocate(a2, "red-2", "red");
    const list = valid(
      await ipamctl(["subnet", "list", "--purpose", "red", "--json"], env),
      "SubnetList",
    );
    // Leased: the addresses of the two /28 blocks that can be handed out (not the network
    // address, the gateway or the broadcast address), exactly as the holders' agents count them.
    let blockCapacity = 0n;
    for (const a of [a1, a2]) {
      const r = await a.ipam.getNodeBlocks({ subnetId: "ctl-red", purpose: "" });
      for (const b of r.blocks) blockCapacity += BigInt(b.capacity);
    }
    expect(blockCapacity).toBeLessThan(32n);
    expect(list.subnets).toMatchObject([
      { id: "ctl-red", blocksLeased: 2, leased: String(blockCapacity), strategy: "zone" },
    ]);

    // In use: remove is refused (exit 5) with the advice to drain.
    const refused = await ipamctl(["subnet", "remove", "ctl-red"], env);
    expect(refused.code, refused.stderr).toBe(5);
    expect(refused.stderr).toContain("ipamctl subnet drain ctl-red --wait");

    const draining = ipamctl(
      ["subnet", "drain", "ctl-red", "--wait", "--interval", "1", "--json"],
      env,
    );
    await waitFor("ctl-red to be draining", async () => {
      const r = await cluster.l1.listBlocks({ subnetId: "ctl-red" });
      return r.blocks.every((b) => b.state === "draining") && r.blocks.length > 0 ? r : undefined;
    });
    await a1.ipam.release({ network: "net", containerId: "red-1", ifname: "eth0" });
    await a2.ipam.release({ network: "net", containerId: "red-2", ifname: "eth0" });
    const run = await draining;
    const doc = valid(run, "SubnetDrain");
    expect(doc).toMatchObject({
      subnet: "ctl-red",
      draining: true,
      done: true,
      addressesHeld: "0",
    });
    expect(run.stderr).toContain("ctl-red:");
    const removed = valid(
      await ipamctl(["subnet", "remove", "ctl-red", "--json"], env),
      "SubnetRemove",
    );
    expect(removed).toMatchObject({ existed: true, removing: false });
  }, 180_000);

  it("lists nodes with their blocks; remove of a node that holds blocks is refused (exit 5)", async () => {
    const doc = valid(await ipamctl(["node", "list", "--tor", TOR, "--json"], env), "NodeList");
    const nodes = doc.nodes as { id: string; blocks: Record<string, number> }[];
    expect(nodes.find((n) => n.id === "ctl-a1")?.blocks.leased).toBeGreaterThan(0);
    const refused = await ipamctl(["node", "remove", "ctl-a1"], env);
    expect(refused.code, refused.stderr).toBe(5);
    expect(refused.stderr).toContain("ipamctl node drain ctl-a1 --wait");
  });
});

describe("ipamctl check and repair --from-report", () => {
  it("finds each planted inconsistency, and repair fixes exactly those, re-checking each", async () => {
    const root = tempDir("ipamctl-check");
    // 1. A leaked direct address: the cluster holds it for ctl-a1, whose agent has no record
    //    (as after an agent that died between AllocateDirect and writing its record).
    valid(
      await ipamctl(
        [
          "subnet",
          "add",
          "ctl-direct",
          "10.99.41.0/28",
          "--purpose",
          "direct",
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
    const ghost = await cluster.l1.allocateDirect({
      items: [
        {
          network: "net",
          containerId: "ghost",
          ifname: "eth0",
          nodeId: "ctl-a1",
          purpose: "direct",
          family: Family.IPV4,
          requestedAddress: "",
        },
      ],
    });
    const ghostResult = ghost.results[0]?.result;
    expect(ghostResult?.case).toBe("address");
    const ghostAddress = ghostResult?.case === "address" ? ghostResult.value.address : "";
    // 2. A block served but not leased: ctl-a1 holds an address in it, the cluster frees it. The
    //    agent re-claims it by itself (ClaimBlock: the block is free and nobody else holds it),
    //    so by the time `check` runs it is no finding any more.
    valid(
      await ipamctl(
        [
          "subnet",
          "add",
          "ctl-blue",
          "10.99.42.0/26",
          "--purpose",
          "blue",
          "--scope",
          TOR,
          "--block-prefix",
          "28",
          "--json",
        ],
        env,
      ),
      "SubnetAdded",
    );
    const [blue] = await allocate(a1, "blue-1", "blue");
    const blueBlock = blue?.blockCidr ?? "";
    await cluster.l1.releaseBlock({ nodeId: "ctl-a1", cidr: blueBlock });
    await waitFor(
      "ctl-a1 to re-claim the freed blue block",
      async () => {
        const leases = (await cluster.l1.listBlocks({ subnetId: "ctl-blue" })).blocks;
        return leases.some((b) => b.cidr === blueBlock && b.nodeId === "ctl-a1")
          ? leases
          : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    // 3. A dead node's blocks: ctl-a3 leases a block, then is SIGKILLed.
    const a3 = await cluster.startAgent("ctl-a3", TOR);
    await allocate(a3, "a3-pod");
    const a3Blocks = (await cluster.l1.listBlocks({ nodeId: "ctl-a3" })).blocks.map((b) => b.cidr);
    expect(a3Blocks.length).toBeGreaterThan(0);
    a3.proc.kill("SIGKILL");
    await a3.proc.exited();

    const before1 = await heldOn(a1.ipam);
    const before2 = await heldOn(a2.ipam);
    const agents = [
      "--node",
      `ctl-a1=unix:${a1.socket}`,
      "--node",
      `ctl-a2=unix:${a2.socket}`,
      "--node",
      `ctl-a3=unix:${a3.socket}`,
      "--timeout",
      "5",
    ];
    const reportFile = `${root}/report.json`;
    const check = await ipamctl(["check", "--json", "--output", reportFile, ...agents], env);
    expect(check.code, check.stderr).toBe(3);
    const report = jsonOf(check);
    expect(schemaErrors(report)).toBe("");
    type F = {
      type: string;
      node: string;
      block?: string;
      addresses: string[];
      repair: string | null;
    };
    const findings = report.findings as F[];
    expect(findings.map((f) => `${f.type} ${f.node}`).sort()).toEqual([
      "dead-node ctl-a3",
      "leaked-direct-address ctl-a1",
    ]);
    expect(findings.find((f) => f.type === "leaked-direct-address")?.addresses).toEqual([
      ghostAddress,
    ]);
    expect(findings.find((f) => f.type === "dead-node")?.addresses).toEqual(
      expect.arrayContaining(a3Blocks),
    );

    const repair = await ipamctl(["repair", "--from-report", reportFile, "--json", ...agents], env);
    expect(repair.code, repair.stderr).toBe(0);
    const outcomes = valid(repair, "RepairResult").outcomes as { type: string; outcome: string }[];
    expect(outcomes.map((o) => `${o.type} ${o.outcome}`).sort()).toEqual([
      "dead-node repaired",
      "leaked-direct-address repaired",
    ]);
    // Exactly those: the blue block is still ctl-a1's (its own re-claim), the ghost address and
    // ctl-a3's blocks are free, and no pod's address was touched.
    const blueLease = (await cluster.l1.listBlocks({ subnetId: "ctl-blue" })).blocks;
    expect(blueLease.map((b) => [b.cidr, b.nodeId])).toEqual([[blueBlock, "ctl-a1"]]);
    const a1Direct = (await cluster.l1.getNodeLeases({ nodeId: "ctl-a1" })).direct;
    expect(a1Direct.map((d) => d.address?.address)).not.toContain(ghostAddress);
    expect((await cluster.l1.listBlocks({ nodeId: "ctl-a3" })).blocks).toEqual([]);
    expect(await heldOn(a1.ipam)).toEqual(before1);
    expect(await heldOn(a2.ipam)).toEqual(before2);

    // Run again from the same report: each item is re-checked, none is in its state any more.
    const again = await ipamctl(["repair", "--from-report", reportFile, "--json", ...agents], env);
    expect(again.code, again.stderr).toBe(0);
    const second = valid(again, "RepairResult").outcomes as { outcome: string }[];
    expect(second.map((o) => o.outcome)).toEqual(["gone", "gone"]);
    await waitFor(
      "a clean check",
      async () => {
        const r = await ipamctl(["check", "--json", ...agents.slice(0, 4)], env);
        return r.code === 0 ? r : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    const bad = await ipamctl(["repair", "--from-report", `${root}/missing.json`], env);
    expect(bad.code, bad.stderr).toBe(2);
    expect(bad.stderr).toContain("--from-report");
  }, 240_000);
});

describe("ipamctl check --kubeconfig", () => {
  it("finds records whose pod is gone or was replaced (new UID), and repair releases exactly those after a fresh look", async () => {
    const kube = await startKubeStandIn();
    try {
      const kubeconfig = kube.kubeconfig(tempDir("ipamctl-kube"));
      const add = async (agent: AgentProc, id: string, podUid: string) => {
        const r = await agent.ipam.allocate({
          network: "net",
          containerId: id,
          ifname: "eth0",
          purpose: "default",
          podNamespace: "web",
          podName: id,
          podUid,
        });
        return r.addresses.map((a) => a.address);
      };
      // live: its pod runs with the recorded UID; nouid: its pod runs, no UID was recorded;
      // deleted: its pod was deleted; replaced: a pod of that name runs with another UID.
      await add(a1, "live", kube.createPod("web", "live", "ctl-a1"));
      kube.createPod("web", "nouid", "ctl-a2");
      await add(a2, "nouid", "");
      const deleted = await add(a1, "deleted", kube.createPod("web", "deleted", "ctl-a1"));
      kube.deletePod("web", "deleted");
      const oldUid = kube.createPod("web", "replaced", "ctl-a2");
      const replaced = await add(a2, "replaced", oldUid);
      kube.deletePod("web", "replaced");
      kube.createPod("web", "replaced", "ctl-a2");

      // Every record of earlier tests names a pod of namespace "team" the stand-in never had:
      // those are gone too. What must be found: every record but live's and nouid's.
      const recordsOf = async (c: IpamClient) =>
        (await c.listAllocations({ network: "", purpose: "", pageSize: 1000, pageToken: "" }))
          .allocations;
      const all = [...(await recordsOf(a1.ipam)), ...(await recordsOf(a2.ipam))];
      const keep = new Set(["live", "nouid"]);
      const want = all
        .filter((r) => r.podName !== "" && !keep.has(r.key?.containerId ?? ""))
        .map((r) => r.key?.containerId)
        .sort();
      expect(want).toEqual(expect.arrayContaining(["deleted", "replaced"]));

      const dir = tempDir("ipamctl-kube-report");
      const agents = ["--node", `ctl-a1=unix:${a1.socket}`, "--node", `ctl-a2=unix:${a2.socket}`];
      const run = await ipamctl(
        [
          "check",
          "--json",
          "--kubeconfig",
          kubeconfig,
          "--output",
          `${dir}/report.json`,
          ...agents,
        ],
        env,
      );
      expect(run.code, run.stderr).toBe(3);
      const report = jsonOf(run);
      expect(schemaErrors(report)).toBe("");
      expect(report.kubernetes).toBe(true);
      type F = {
        id: string;
        type: string;
        key?: { containerId: string };
        addresses: string[];
        detail: string;
      };
      const findings = (report.findings as F[]).filter((f) => f.type === "pod-gone");
      expect(findings.map((f) => f.key?.containerId).sort()).toEqual(want);
      expect(findings.find((f) => f.key?.containerId === "deleted")).toMatchObject({
        addresses: deleted,
      });
      const rep = findings.find((f) => f.key?.containerId === "replaced");
      expect(rep?.addresses).toEqual(replaced);
      expect(rep?.detail).toContain(`UID ${oldUid} recorded at ADD`);
      // Every GET was a fresh one, per record: the stand-in saw a GET of each pod.
      expect(kube.requests.some((r) => r.startsWith("GET /api/v1/namespaces/web/pods/live"))).toBe(
        true,
      );

      // Without the Kubernetes view repair cannot re-check those: nothing released.
      const blindRun = await ipamctl(
        ["repair", "--from-report", `${dir}/report.json`, "--json", ...agents],
        env,
      );
      expect(blindRun.code, blindRun.stderr).toBe(3);
      const blindDoc = jsonOf(blindRun);
      expect(schemaErrors(blindDoc)).toBe("");
      const blind = blindDoc.outcomes as { type: string; outcome: string }[];
      expect(blind.filter((o) => o.type === "pod-gone").map((o) => o.outcome)).toEqual(
        want.map(() => "unchecked"),
      );
      // Meanwhile "deleted" comes back under its old name (a new pod, a new UID): still gone;
      // and the runtime released "replaced" itself: no longer in the reported state.
      kube.createPod("web", "deleted", "ctl-a1");
      await a2.ipam.release({ network: "net", containerId: "replaced", ifname: "eth0" });
      const repaired = await ipamctl(
        [
          "repair",
          "--from-report",
          `${dir}/report.json`,
          "--kubeconfig",
          kubeconfig,
          "--json",
          ...agents,
        ],
        env,
      );
      expect(repaired.code, repaired.stderr).toBe(0);
      const repairedDoc = jsonOf(repaired);
      expect(schemaErrors(repairedDoc)).toBe("");
      const outcomes = repairedDoc.outcomes as { finding: string; type: string; outcome: string }[];
      const idOf = new Map(findings.map((f) => [f.id, f.key?.containerId]));
      const byContainer = Object.fromEntries(
        outcomes.filter((o) => o.type === "pod-gone").map((o) => [idOf.get(o.finding), o.outcome]),
      );
      expect(byContainer).toEqual(
        Object.fromEntries(want.map((id) => [id, id === "replaced" ? "gone" : "repaired"])),
      );
      const left = [...(await recordsOf(a1.ipam)), ...(await recordsOf(a2.ipam))]
        .map((r) => r.key?.containerId)
        .sort();
      expect(left).toEqual(
        all
          .map((r) => r.key?.containerId)
          .filter((id) => !want.includes(id))
          .sort(),
      );
      expect(left).toEqual(expect.arrayContaining(["live", "nouid"]));
    } finally {
      await kube.close();
    }
  });
});

describe("ipamctl snapshot", () => {
  it("has the leader snapshot and compact its log now; restarted, that server starts from the snapshot", async () => {
    const before = await cluster.l1.getStatus({});
    const doc = valid(await ipamctl(["snapshot", "--json"], env), "Snapshot");
    expect(doc.store).toBe("raft");
    const index = Number(doc.index);
    expect(index).toBeGreaterThan(Number(before.snapshotIndex));
    expect(Number(doc.bytes)).toBeGreaterThan(0);
    const server = cluster.servers.find((x) => x.id === doc.server);
    expect(server, `snapshot taken by ${String(doc.server)}`).toBeDefined();
    if (server === undefined) return;
    const direct = createClusterClient({ addresses: [server.address], deadlineMs: 10_000 });
    try {
      const st = await direct.getStatus({});
      expect(Number(st.snapshotIndex)).toBeGreaterThanOrEqual(index);
      // Killed and started again, it loads that snapshot from its data dir (then catches up).
      server.proc.kill("SIGKILL");
      await server.proc.exited();
      cluster.restartServer(server);
      const back = await waitFor(
        `${server.id} back from its snapshot`,
        async () => {
          const s = await direct.getStatus({}, { deadlineMs: POLL_RPC_MS });
          return Number(s.appliedIndex) >= index && s.notReadyReason === "" ? s : undefined;
        },
        { timeoutMs: 90_000 },
      );
      expect(Number(back.snapshotIndex)).toBeGreaterThanOrEqual(index);
      const text = await ipamctl(["snapshot"], env);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toMatch(/took a snapshot at log index \d+ \(\d+ bytes\)/);
    } finally {
      direct.close();
    }
  });
});

describe("ipamctl usage errors against the real binary", () => {
  it("exits 2 naming the flag or the missing option", async () => {
    const bad = await ipamctl(["show", "--bogus"], env);
    expect(bad.code, bad.stderr).toBe(2);
    expect(bad.stderr).toContain("--bogus");
    const missing = await ipamctl(["subnet", "add", "x", "10.99.50.0/24", "--scope", TOR], env);
    expect(missing.code, missing.stderr).toBe(2);
    expect(missing.stderr).toContain("--purpose");
    const family = await ipamctl(["show", "--family", "ipv5"], env);
    expect(family.code, family.stderr).toBe(2);
    expect(family.stderr).toContain("--family");
    const ip = await ipamctl(["show", "--ip", "10.300.0.1"], env);
    expect(ip.code, ip.stderr).toBe(2);
    expect(ip.stderr).toContain("--ip");
  });
});
