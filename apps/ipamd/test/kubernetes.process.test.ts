import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type ClusterClient,
  createClusterClient,
  createIpamClient,
  Family,
  type IpamClient,
  ReadyState,
} from "@ipam/grpc-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type KubeStandIn, startKubeStandIn } from "./helpers/kube-stand-in.js";
import {
  freePort,
  type IpamdProcess,
  killAll,
  logsOf,
  spawnIpamd,
  tempDir,
  waitFor,
} from "./helpers/processes.js";

// `ipamd --kubernetes` against the Kubernetes API stand-in (helpers/kube-stand-in.ts): one real
// server (the Raft leader runs the node controller) and one real agent (its Node's labels, the
// pod annotations, the pod GC), all through the real @kubernetes/client-node over HTTP.

const TOPOLOGY = `
version: 1
zones:
  - id: z1
    pods:
      - id: p1
        tors:
          - id: t1
            subnets:
              - { id: t1-v4, cidr: 10.99.0.0/24, purpose: default, blockPrefix: 28, cooldownSeconds: 0 }
              - { id: t1-fast, cidr: 10.99.2.0/24, purpose: fast, blockPrefix: 28, cooldownSeconds: 0 }
              - { id: t1-tiny, cidr: 10.99.3.0/29, purpose: tiny, blockPrefix: 29, cooldownSeconds: 0 }
          - id: t2
            subnets:
              - { id: t2-v4, cidr: 10.99.1.0/24, purpose: default, blockPrefix: 28, cooldownSeconds: 0 }
`;

const TOR_LABEL = "ipam.io/tor";
const procs: IpamdProcess[] = [];
const clients: Array<{ close(): void }> = [];
let api: KubeStandIn;
let cluster: ClusterClient;
let serverMetrics = 0;

afterAll(async () => {
  for (const c of clients) c.close();
  await killAll();
  await api?.close();
});

/** The sum of a counter's series whose labels contain every `labels` pair. */
async function counter(port: number, name: string, labels: Record<string, string> = {}) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) {
      sum += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return sum;
}

function fail(err: unknown): never {
  throw new Error(`${(err as Error).message}\n${logsOf(procs, 40)}`);
}

async function blocksOf(node: string) {
  return (await cluster.getNodeLeases({ nodeId: node })).blocks;
}

/** Registers `node` under `tor` as a --kubernetes agent would (TOR label) and leases it a block. */
async function registeredWithBlock(node: string, tor: string): Promise<string> {
  await cluster.registerNode({ nodeId: node, torId: tor, labels: { [TOR_LABEL]: tor } });
  const r = await cluster.leaseBlock({ nodeId: node, purpose: "default", family: Family.IPV4 });
  return r.block?.cidr ?? "";
}

describe("ipamd --kubernetes against an API stand-in", () => {
  const root = tempDir("ipamd-k8s");
  let kubeconfig = "";
  let ipam: IpamClient;
  let agentMetrics = 0;
  let agentSock = "";

  beforeAll(async () => {
    api = await startKubeStandIn();
    kubeconfig = api.kubeconfig(root);
    const topology = join(root, "topology.yaml");
    writeFileSync(topology, TOPOLOGY);
    const address = `127.0.0.1:${await freePort()}`;
    serverMetrics = await freePort();
    procs.push(
      spawnIpamd("server", [
        "--role",
        "server",
        "--node-id",
        "s1",
        "--bootstrap",
        "--data-dir",
        join(root, "s1"),
        "--grpc-addr",
        address,
        "--metrics-addr",
        `127.0.0.1:${serverMetrics}`,
        "--topology",
        topology,
        "--election-ms",
        "500",
        "--log-level",
        "info",
        "--kubernetes",
        "--kubeconfig",
        kubeconfig,
        "--k8s-resync",
        "1",
        "--k8s-node-grace",
        "600",
      ]),
    );
    cluster = createClusterClient({ addresses: [address], deadlineMs: 30_000 });
    clients.push(cluster);
    await waitFor("the server to lead with the topology", async () => {
      const t = await cluster.getTopology({}, { deadlineMs: 5000 });
      return t.topologyJson.includes('"t2"') ? t : undefined;
    }).catch(fail);

    agentMetrics = await freePort();
    agentSock = join(root, "agent", "ipamd.sock");
    procs.push(
      spawnIpamd(
        "agent",
        [
          "--role",
          "agent",
          "--servers",
          address,
          "--data-dir",
          join(root, "agent"),
          "--unix-socket",
          agentSock,
          "--metrics-addr",
          `127.0.0.1:${agentMetrics}`,
          "--log-level",
          "info",
          "--kubernetes",
          "--kubeconfig",
          kubeconfig,
          "--k8s-resync",
          "1",
          "--k8s-pod-grace",
          "1",
          "--k8s-watch-idle",
          "3",
        ],
        { env: { NODE_NAME: "worker-1" } },
      ),
    );
    ipam = createIpamClient({ addresses: [`unix:${agentSock}`], deadlineMs: 30_000 });
    clients.push(ipam);
  }, 180_000);

  it("an agent that cannot load its --kubeconfig exits 1 naming the flag", async () => {
    const dir = join(root, "bad");
    const p = spawnIpamd("bad-kubeconfig", [
      "--role",
      "agent",
      "--servers",
      "127.0.0.1:7400",
      "--data-dir",
      dir,
      "--unix-socket",
      join(dir, "ipamd.sock"),
      "--metrics-addr",
      "off",
      "--kubernetes",
      "--kubeconfig",
      join(root, "missing.yaml"),
    ]);
    expect(await p.exited()).toBe(1);
    expect(p.log.join("\n")).toContain("--kubeconfig: cannot load");
  }, 60_000);

  it("an agent whose Node has no TOR label is not ready and says which label; labelled, it registers", async () => {
    api.putNode("worker-1", { "topology.kubernetes.io/zone": "z1" });
    const status = await waitFor("the agent to name the missing label", async () => {
      const s = await ipam.status({}, { deadlineMs: 5000 });
      return s.reason.includes(TOR_LABEL) ? s : undefined;
    }).catch(fail);
    expect(status.state).toBe(ReadyState.UNAVAILABLE);
    expect(status.reason).toContain("worker-1");
    const readyz = await fetch(`http://127.0.0.1:${agentMetrics}/readyz`);
    expect(readyz.status).toBe(503);
    expect(await readyz.text()).toContain(TOR_LABEL);

    api.putNode("worker-1", { "topology.kubernetes.io/zone": "z1", [TOR_LABEL]: "t1" });
    await waitFor("the agent to be ready under t1", async () => {
      const s = await ipam.status({}, { deadlineMs: 5000 });
      return s.state === ReadyState.READY && s.reason === "" ? s : undefined;
    }).catch(fail);
    const topo = JSON.parse((await cluster.getTopology({})).topologyJson) as unknown;
    expect(JSON.stringify(topo)).toMatch(/"worker-1"/);
    expect((await fetch(`http://127.0.0.1:${agentMetrics}/readyz`)).status).toBe(200);
  }, 180_000);

  it("releases the address of a pod that is gone, and the old record of a restarted StatefulSet pod (same name, new UID) but not the new one", async () => {
    const u1 = api.createPod("db", "web-0", "worker-1");
    const first = await ipam
      .allocate({
        network: "pods",
        containerId: "web-0-a",
        ifname: "eth0",
        podNamespace: "db",
        podName: "web-0",
        podUid: u1,
      })
      .catch(fail);
    // The StatefulSet controller replaces the pod: same name, new UID, new sandbox.
    api.deletePod("db", "web-0");
    const u2 = api.createPod("db", "web-0", "worker-1");
    const second = await ipam.allocate({
      network: "pods",
      containerId: "web-0-b",
      ifname: "eth0",
      podNamespace: "db",
      podName: "web-0",
      podUid: u2,
    });
    const gone = api.createPod("db", "job-1", "worker-1");
    await ipam.allocate({
      network: "pods",
      containerId: "job-1-a",
      ifname: "eth0",
      podNamespace: "db",
      podName: "job-1",
      podUid: gone,
    });
    api.deletePod("db", "job-1");

    const held = await waitFor("the pod GC to release web-0-a and job-1-a", async () => {
      const list = (await ipam.listAllocations({})).allocations.map((a) => a.key?.containerId);
      return !list.includes("web-0-a") && !list.includes("job-1-a") ? list : undefined;
    }).catch(fail);
    expect(held).toContain("web-0-b");
    expect(second.addresses[0]?.address).not.toBe(undefined);
    expect(first.addresses[0]?.address).not.toBe(second.addresses[0]?.address);
    expect(
      await counter(agentMetrics, "ipamd_k8s_released_total", { controller: "pod-gc" }),
    ).toBeGreaterThanOrEqual(2);
  }, 180_000);

  it("never frees the address of a pod the cache missed: the fresh read keeps it", async () => {
    // The pod exists in the API but not in the agent's cache (a watch behind the API).
    api.hide("pods", "db", "late-0");
    const uid = api.createPod("db", "late-0", "worker-1");
    await ipam.allocate({
      network: "pods",
      containerId: "late-0-a",
      ifname: "eth0",
      podNamespace: "db",
      podName: "late-0",
      podUid: uid,
    });
    const before = await counter(agentMetrics, "ipamd_k8s_kept_total", { controller: "pod-gc" });
    await waitFor("the GC to look at late-0 twice and keep it", async () =>
      (await counter(agentMetrics, "ipamd_k8s_kept_total", { controller: "pod-gc" })) >= before + 2
        ? true
        : undefined,
    ).catch(fail);
    const list = (await ipam.listAllocations({})).allocations.map((a) => a.key?.containerId);
    expect(list).toContain("late-0-a");
  }, 180_000);

  it("follows the API through 410 Gone, dropped watches and failing lists", async () => {
    const uid = api.createPod("db", "batch-0", "worker-1");
    await ipam.allocate({
      network: "pods",
      containerId: "batch-0-a",
      ifname: "eth0",
      podNamespace: "db",
      podName: "batch-0",
      podUid: uid,
    });
    const goneBefore = await counter(agentMetrics, "ipamd_k8s_watch_restarts_total", {
      kind: "pods",
      reason: "gone",
    });
    // The pod goes while the watch is down and the history it would resume from is compacted;
    // the re-list fails a few times before it answers.
    api.failNext(/^\/api\/v1\/pods$/, 500, 2);
    api.dropWatches();
    api.deletePod("db", "batch-0");
    api.compact();
    await waitFor("batch-0-a released after the re-list", async () => {
      const list = (await ipam.listAllocations({})).allocations.map((a) => a.key?.containerId);
      return list.includes("batch-0-a") ? undefined : list;
    }).catch(fail);
    expect(
      await counter(agentMetrics, "ipamd_k8s_watch_restarts_total", {
        kind: "pods",
        reason: "gone",
      }),
    ).toBeGreaterThan(goneBefore);
    expect(
      await counter(agentMetrics, "ipamd_k8s_watch_restarts_total", {
        kind: "pods",
        reason: "error",
      }),
    ).toBeGreaterThanOrEqual(1);
  }, 180_000);

  it("a watch held open silently (no events, no bookmarks) is listed again after --k8s-watch-idle", async () => {
    const uid = api.createPod("db", "quiet-0", "worker-1");
    await ipam.allocate({
      network: "pods",
      containerId: "quiet-0-a",
      ifname: "eth0",
      podNamespace: "db",
      podName: "quiet-0",
      podUid: uid,
    });
    const idleBefore = await counter(agentMetrics, "ipamd_k8s_watch_restarts_total", {
      kind: "pods",
      reason: "idle",
    });
    await waitFor("the agent's pods watch to be open", () =>
      api.silence("pods") > 0 ? true : undefined,
    );
    // The silenced watch never tells the agent: only a new list shows that the pod is gone.
    api.deletePod("db", "quiet-0");
    await waitFor("quiet-0-a released after the watchdog's re-list", async () => {
      const list = (await ipam.listAllocations({})).allocations.map((a) => a.key?.containerId);
      return list.includes("quiet-0-a") ? undefined : list;
    }).catch(fail);
    expect(
      await counter(agentMetrics, "ipamd_k8s_watch_restarts_total", {
        kind: "pods",
        reason: "idle",
      }),
    ).toBeGreaterThan(idleBefore);
  }, 180_000);

  it("applies the static-address and purpose annotations, and records an Event when a static address is refused", async () => {
    const a = api.createPod("web", "fixed-0", "worker-1", {
      "ipam.io/ip-addresses": "10.99.0.200",
    });
    const r = await ipam
      .allocate({
        network: "pods",
        containerId: "fixed-0-a",
        ifname: "eth0",
        podNamespace: "web",
        podName: "fixed-0",
        podUid: a,
      })
      .catch(fail);
    expect(r.addresses.map((x) => x.address)).toEqual(["10.99.0.200"]);

    const b = api.createPod("web", "fixed-1", "worker-1", {
      "ipam.io/ip-addresses": "10.99.0.200",
    });
    await expect(
      ipam.allocate({
        network: "pods",
        containerId: "fixed-1-a",
        ifname: "eth0",
        podNamespace: "web",
        podName: "fixed-1",
        podUid: b,
      }),
    ).rejects.toThrow();
    const event = await waitFor("an Event on web/fixed-1", () =>
      api.events.find((e) => (e.involvedObject as { name?: string }).name === "fixed-1"),
    );
    expect(event.reason).toBe("IpamdStaticAddressRefused");
    expect(event.type).toBe("Warning");

    api.putNamespace("fast", { "ipam.io/purpose": "fast" });
    const c = api.createPod("fast", "f-0", "worker-1");
    const f = await ipam.allocate({
      network: "pods",
      containerId: "f-0-a",
      ifname: "eth0",
      podNamespace: "fast",
      podName: "f-0",
      podUid: c,
    });
    expect(f.addresses[0]?.address).toMatch(/^10\.99\.2\./);
  }, 180_000);

  it("records a Warning Event on the pod whose ADD finds its pool exhausted", async () => {
    // Namespace "tiny" defaults its pods to purpose tiny: one /29 for the whole cluster.
    api.putNamespace("tiny", { "ipam.io/purpose": "tiny" });
    const held: string[] = [];
    let refused: { name: string; err: Error } | undefined;
    for (let i = 0; i < 16 && refused === undefined; i++) {
      const name = `t-${i}`;
      const uid = api.createPod("tiny", name, "worker-1");
      try {
        const r = await ipam.allocate({
          network: "pods",
          containerId: `${name}-a`,
          ifname: "eth0",
          podNamespace: "tiny",
          podName: name,
          podUid: uid,
        });
        held.push(r.addresses[0]?.address ?? "");
      } catch (err) {
        refused = { name, err: err as Error };
      }
    }
    if (refused === undefined)
      fail(new Error(`16 ADDs in a /29 all succeeded: ${held.join(", ")}`));
    expect(held.length).toBeGreaterThan(0);
    for (const a of held) expect(a).toMatch(/^10\.99\.3\./);
    const name = refused.name;
    const event = await waitFor(`an Event on tiny/${name}`, () =>
      api.events.find((e) => (e.involvedObject as { name?: string }).name === name),
    ).catch(fail);
    expect(event.reason).toBe("IpamdPoolExhausted");
    expect(event.type).toBe("Warning");
    expect((event.involvedObject as { namespace?: string }).namespace).toBe("tiny");
    expect(
      await counter(agentMetrics, "ipamd_k8s_events_total", {
        reason: "IpamdPoolExhausted",
        result: "ok",
      }),
    ).toBeGreaterThanOrEqual(1);
    // The pods that got an address keep it, and get no Event.
    for (let i = 0; i < held.length; i++) {
      expect(
        api.events.some((e) => (e.involvedObject as { name?: string }).name === `t-${i}`),
      ).toBe(false);
    }
    expect((await ipam.listAllocations({})).allocations.map((a) => a.key?.containerId)).toEqual(
      expect.arrayContaining(held.map((_, i) => `t-${i}-a`)),
    );
  }, 180_000);

  it("the leader revokes the blocks of a deleted Node and of one NotReady past the grace, after a fresh read", async () => {
    // Ready Nodes first: the controller must not see a registered node before its Node exists.
    for (const n of ["gone-1", "sick-1", "sick-2"]) api.putNode(n, { [TOR_LABEL]: "t2" });
    api.hide("nodes", "", "hidden-1");
    api.putNode("hidden-1", { [TOR_LABEL]: "t2" });
    const blocks = new Map<string, string>();
    for (const n of ["gone-1", "sick-1", "sick-2", "hidden-1"]) {
      blocks.set(n, await registeredWithBlock(n, "t2"));
    }
    // Not a --kubernetes node (no TOR label): no Node, but never touched.
    await cluster.registerNode({ nodeId: "bare-1", torId: "t2" });
    await cluster.leaseBlock({ nodeId: "bare-1", purpose: "default", family: Family.IPV4 });
    api.putNode("sick-1", { [TOR_LABEL]: "t2" }, false, new Date(Date.now() - 3_600_000));
    api.putNode("sick-2", { [TOR_LABEL]: "t2" }, false, new Date());
    api.deleteNode("gone-1");

    for (const n of ["gone-1", "sick-1"]) {
      await waitFor(`${n}'s block revoked`, async () => {
        const b = await blocksOf(n);
        return b.length === 1 && b[0]?.state === "revoked" ? b : undefined;
      }).catch(fail);
    }
    // The controller looked at hidden-1 (missing from its cache) and kept it after reading it.
    await waitFor("the node controller to keep hidden-1 after a fresh read", async () =>
      (await counter(serverMetrics, "ipamd_k8s_kept_total", { controller: "node" })) >= 1
        ? true
        : undefined,
    ).catch(fail);
    const passes = await counter(serverMetrics, "ipamd_k8s_reconciled_total", {
      controller: "node",
      result: "ok",
    });
    await waitFor("three more node controller passes", async () =>
      (await counter(serverMetrics, "ipamd_k8s_reconciled_total", {
        controller: "node",
        result: "ok",
      })) >=
      passes + 3
        ? true
        : undefined,
    );
    for (const n of ["sick-2", "hidden-1", "bare-1"]) {
      expect((await blocksOf(n)).map((b) => b.state || "leased")).toEqual(["leased"]);
    }
    // Revoked, not freed: nobody else can lease them until the holder returns them.
    expect((await blocksOf("gone-1"))[0]?.cidr).toBe(blocks.get("gone-1"));
    expect(api.events.some((e) => e.reason === "IpamdBlocksRevoked")).toBe(true);
  }, 180_000);

  it("a Node moved to another TOR re-registers there once the old TOR's blocks are back", async () => {
    const oldBlocks = (await blocksOf("worker-1")).map((b) => b.cidr);
    expect(oldBlocks.length).toBeGreaterThan(0);
    api.putNode("worker-1", { [TOR_LABEL]: "t2" });
    await waitFor("the agent to say it is moving", async () => {
      const s = await ipam.status({}, { deadlineMs: 5000 });
      return s.reason.includes("moving to TOR t2") ? s : undefined;
    }).catch(fail);
    // While its pods hold addresses, its old blocks are revoked, never leased to anyone else.
    await waitFor("the leader to revoke worker-1's blocks of t1", async () => {
      const b = await blocksOf("worker-1");
      return b.length > 0 && b.every((x) => x.state === "revoked") ? b : undefined;
    }).catch(fail);
    // Nothing of t1 is leased to anyone else meanwhile.
    for (const cidr of oldBlocks) {
      const holders = (await cluster.listBlocks({})).blocks.filter((b) => b.cidr === cidr);
      expect(holders.map((b) => b.nodeId)).toEqual(["worker-1"]);
    }
    for (const a of (await ipam.listAllocations({})).allocations) {
      await ipam.release({
        network: a.key?.network ?? "",
        containerId: a.key?.containerId ?? "",
        ifname: a.key?.ifname ?? "",
      });
    }
    await waitFor("the agent ready under t2", async () => {
      const s = await ipam.status({}, { deadlineMs: 5000 });
      return s.state === ReadyState.READY && s.reason === "" ? s : undefined;
    }).catch(fail);
    const uid = api.createPod("db", "after-move", "worker-1");
    const r = await ipam.allocate({
      network: "pods",
      containerId: "after-move-a",
      ifname: "eth0",
      podNamespace: "db",
      podName: "after-move",
      podUid: uid,
    });
    expect(r.addresses[0]?.address).toMatch(/^10\.99\.1\./);
  }, 240_000);
});
