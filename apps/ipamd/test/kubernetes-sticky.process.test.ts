import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type ClusterClient,
  createClusterClient,
  createIpamClient,
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

// Sticky addresses of StatefulSet pods, end to end: one real server (Raft, a snapshot every few
// entries; its sticky controller) and three real agents (w1, w2 on TOR t1, w3 on t2) with
// `--kubernetes` against the API stand-in. Purpose `sts` is direct-mode, so an address can follow
// its pod from node to node within the TOR (docs/kubernetes.md).

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
              - { id: t1-sts, cidr: 10.99.5.0/24, purpose: sts, blockPrefix: 32, cooldownSeconds: 0 }
          - id: t2
            subnets:
              - { id: t2-v4, cidr: 10.99.1.0/24, purpose: default, blockPrefix: 28, cooldownSeconds: 0 }
              - { id: t2-sts, cidr: 10.99.6.0/24, purpose: sts, blockPrefix: 32, cooldownSeconds: 0 }
`;

const TOR_LABEL = "ipam.io/tor";
const procs: IpamdProcess[] = [];
const clients: Array<{ close(): void }> = [];
let api: KubeStandIn;
let cluster: ClusterClient;
const ipam = new Map<string, IpamClient>();

afterAll(async () => {
  for (const c of clients) c.close();
  await killAll();
  await api?.close();
});

function fail(err: unknown): never {
  throw new Error(`${(err as Error).message}\n${logsOf(procs, 30)}`);
}

const add = (node: string, ns: string, pod: string, uid: string, container: string) =>
  (ipam.get(node) as IpamClient).allocate({
    network: "pods",
    containerId: container,
    ifname: "eth0",
    podNamespace: ns,
    podName: pod,
    podUid: uid,
  });

const del = (node: string, container: string) =>
  (ipam.get(node) as IpamClient).release({
    network: "pods",
    containerId: container,
    ifname: "eth0",
  });

const binding = async (ns: string, sts: string, ordinal: number) =>
  (await cluster.getStickyBinding({ namespace: ns, statefulSet: sts, ordinal })).binding;

describe("sticky addresses of StatefulSet pods (ipamd --kubernetes against an API stand-in)", () => {
  const root = tempDir("ipamd-sticky");
  let serverArgs: string[] = [];

  beforeAll(async () => {
    api = await startKubeStandIn();
    const kubeconfig = api.kubeconfig(root);
    const topology = join(root, "topology.yaml");
    writeFileSync(topology, TOPOLOGY);
    const address = `127.0.0.1:${await freePort()}`;
    serverArgs = [
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
      "off",
      "--topology",
      topology,
      "--election-ms",
      "500",
      "--raft-snapshot-entries",
      "4",
      "--kubernetes",
      "--kubeconfig",
      kubeconfig,
      "--k8s-resync",
      "1",
    ];
    procs.push(spawnIpamd("server", serverArgs));
    cluster = createClusterClient({ addresses: [address], deadlineMs: 30_000 });
    clients.push(cluster);
    await waitFor("the server to lead with the topology", async () => {
      const t = await cluster.getTopology({}, { deadlineMs: 5000 });
      return t.topologyJson.includes('"t2-sts"') ? t : undefined;
    }).catch(fail);
    api.putNamespace("db", { "ipam.io/purpose": "sts" });
    for (const [node, tor] of [
      ["w1", "t1"],
      ["w2", "t1"],
      ["w3", "t2"],
    ] as const) {
      api.putNode(node, { [TOR_LABEL]: tor });
      const sock = join(root, node, "ipamd.sock");
      procs.push(
        spawnIpamd(
          node,
          [
            "--role",
            "agent",
            "--servers",
            address,
            "--data-dir",
            join(root, node),
            "--unix-socket",
            sock,
            "--metrics-addr",
            "off",
            "--kubernetes",
            "--kubeconfig",
            kubeconfig,
            "--k8s-resync",
            "1",
            // The old pods' addresses go by their DEL here, not by the pod GC.
            "--k8s-pod-grace",
            "3600",
          ],
          { env: { NODE_NAME: node } },
        ),
      );
      const client = createIpamClient({ addresses: [`unix:${sock}`], deadlineMs: 30_000 });
      clients.push(client);
      ipam.set(node, client);
    }
    for (const [node, client] of ipam) {
      await waitFor(`${node} ready`, async () => {
        const s = await client.status({}, { deadlineMs: 5000 });
        return s.state === ReadyState.READY ? s : undefined;
      }).catch(fail);
    }
  }, 240_000);

  let a = "";

  it("web-0 keeps its address on another node of its TOR, and never while the old pod holds it", async () => {
    api.putStatefulSet("db", "web", 1);
    const u1 = api.createPod("db", "web-0", "w1", {}, { statefulSet: "web" });
    const first = await add("w1", "db", "web-0", u1, "web-0-a").catch(fail);
    a = first.addresses[0]?.address ?? "";
    expect(a).toMatch(/^10\.99\.5\./);
    expect((await binding("db", "web", 0))?.holderPodUid).toBe(u1);

    // Deleted and created again on w2 (new UID) before w1's DEL: refused, retryable.
    api.deletePod("db", "web-0");
    const u2 = api.createPod("db", "web-0", "w2", {}, { statefulSet: "web" });
    await expect(add("w2", "db", "web-0", u2, "web-0-b")).rejects.toThrow(/still held/);
    expect((await binding("db", "web", 0))?.holderPodUid).toBe(u1);
    const held = (await ipam.get("w2")?.listAllocations({}))?.allocations ?? [];
    expect(held.map((x) => x.key?.containerId)).not.toContain("web-0-b");

    await del("w1", "web-0-a");
    const again = await waitFor("web-0 on w2 to get its address once w1 let go", async () =>
      add("w2", "db", "web-0", u2, "web-0-b").catch(() => undefined),
    ).catch(fail);
    expect(again.addresses.map((x) => x.address)).toEqual([a]);
    expect(await binding("db", "web", 0)).toMatchObject({
      addresses: [a],
      torId: "t1",
      holderNodeId: "w2",
      holderPodUid: u2,
    });
  }, 180_000);

  it("a server restarted from its snapshot keeps the bindings", async () => {
    // Enough entries after the last binding change that the snapshot (every 4 entries) holds
    // it and no log entry replays it.
    for (let i = 0; i < 6; i++) {
      const uid = api.createPod("db", `filler-${i}`, "w1");
      await add("w1", "db", `filler-${i}`, uid, `filler-${i}-a`).catch(fail);
    }
    const server = procs[0] as IpamdProcess;
    server.kill("SIGKILL");
    await server.exited();
    procs[0] = spawnIpamd("server-again", serverArgs);
    const b = await waitFor("the restarted server to answer with the binding", async () =>
      binding("db", "web", 0).catch(() => undefined),
    ).catch(fail);
    expect(b).toMatchObject({ addresses: [a], holderNodeId: "w2" });
  }, 180_000);

  it("moved to another TOR: a new address, the binding follows, a Warning Event says so", async () => {
    api.putStatefulSet("db", "api", 1);
    const u1 = api.createPod("db", "api-0", "w1", {}, { statefulSet: "api" });
    const first = await add("w1", "db", "api-0", u1, "api-0-a").catch(fail);
    const old = first.addresses[0]?.address ?? "";
    await del("w1", "api-0-a");
    api.deletePod("db", "api-0");
    const u2 = api.createPod("db", "api-0", "w3", {}, { statefulSet: "api" });
    const moved = await waitFor("api-0 on w3 to be served", async () =>
      add("w3", "db", "api-0", u2, "api-0-b").catch(() => undefined),
    ).catch(fail);
    expect(moved.addresses[0]?.address).toMatch(/^10\.99\.6\./);
    expect(await binding("db", "api", 0)).toMatchObject({
      addresses: [moved.addresses[0]?.address],
      torId: "t2",
      holderPodUid: u2,
    });
    const event = await waitFor("the IpamdStickyAddressMoved Event on db/api-0", () =>
      api.events.find(
        (e) =>
          e.reason === "IpamdStickyAddressMoved" &&
          (e.involvedObject as { name?: string }).name === "api-0",
      ),
    ).catch(fail);
    expect(event.type).toBe("Warning");
    expect(String(event.message)).toContain(old);
  }, 180_000);

  it("another pod took the address while no pod held it: the returning pod gets a fresh one, never the held one", async () => {
    api.putStatefulSet("db", "cache", 1);
    const u1 = api.createPod("db", "cache-0", "w1", {}, { statefulSet: "cache" });
    const first = await add("w1", "db", "cache-0", u1, "cache-0-a").catch(fail);
    const old = first.addresses[0]?.address ?? "";
    await del("w1", "cache-0-a");
    api.deletePod("db", "cache-0");
    await waitFor("cache-0's holder to let go", async () => {
      const b = await binding("db", "cache", 0);
      return b !== undefined && b.holderPodUid === "" ? b : undefined;
    }).catch(fail);
    // A pod of no StatefulSet asks for that very address (cooldown 0: it is free again).
    const intruder = api.createPod("db", "intruder", "w2", { "ipam.io/ip-addresses": old });
    const taken = await add("w2", "db", "intruder", intruder, "intruder-a").catch(fail);
    expect(taken.addresses.map((x) => x.address)).toEqual([old]);
    // cache-0 comes back on w2: not refused forever, not given the held address.
    const u2 = api.createPod("db", "cache-0", "w2", {}, { statefulSet: "cache" });
    const back = await add("w2", "db", "cache-0", u2, "cache-0-b").catch(fail);
    const fresh = back.addresses[0]?.address ?? "";
    expect(fresh).toMatch(/^10\.99\.5\./);
    expect(fresh).not.toBe(old);
    expect(await binding("db", "cache", 0)).toMatchObject({
      addresses: [fresh],
      holderPodUid: u2,
    });
    await waitFor("the IpamdStickyAddressMoved Event on db/cache-0", () =>
      api.events.find(
        (e) =>
          e.reason === "IpamdStickyAddressMoved" &&
          (e.involvedObject as { name?: string }).name === "cache-0",
      ),
    ).catch(fail);
    await del("w2", "cache-0-b");
    await del("w2", "intruder-a");
    api.deleteStatefulSet("db", "cache");
    api.deletePod("db", "cache-0");
  }, 180_000);

  it("scaled down to 0, then deleted: the bindings go once the pods are gone, and the address is free", async () => {
    api.putStatefulSet("db", "web", 0);
    // web-0 still runs: its binding stays through several controller passes.
    await waitFor("the sticky controller to keep the running web-0", async () => {
      const b = await binding("db", "web", 0);
      return b !== undefined ? b : undefined;
    });
    api.deletePod("db", "web-0");
    await del("w2", "web-0-b");
    await waitFor("web-0's binding to go", async () =>
      (await binding("db", "web", 0)) === undefined ? true : undefined,
    ).catch(fail);
    const direct = (await cluster.getNodeLeases({ nodeId: "w2" })).direct;
    expect(direct.map((d) => d.address?.address)).not.toContain(a);

    api.deleteStatefulSet("db", "api");
    api.deletePod("db", "api-0");
    await del("w3", "api-0-b");
    await waitFor("api-0's binding to go with its StatefulSet", async () =>
      (await binding("db", "api", 0)) === undefined ? true : undefined,
    ).catch(fail);
  }, 180_000);
});
