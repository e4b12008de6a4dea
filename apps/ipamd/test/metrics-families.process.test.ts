import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createIpamClient, type IpamClient, ReadyState } from "@ipam/grpc-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, killAll, logsOf, spawnIpamd, tempDir, waitFor } from "./helpers/processes.js";

// Which families each role exports, and what their labels and values say (issue 16 item 6,
// issue 23 item 6), on real processes: the `tor` label from the topology, no Raft family on a
// node agent, the leader-change counter, and block-mode cool-down in the subnet gauge.

const clients: Array<{ close(): void }> = [];
afterAll(async () => {
  for (const c of clients) c.close();
  await killAll();
});

function ipam(socket: string): IpamClient {
  const c = createIpamClient({ addresses: [`unix:${socket}`], maxAttempts: 1, deadlineMs: 30_000 });
  clients.push(c);
  return c;
}

/** Every sample line of `name` (exact family member) whose labels contain every pair. */
function samples(text: string, name: string, labels: Record<string, string> = {}): number[] {
  return text
    .split("\n")
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .filter((l) => Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)))
    .map((l) => Number(l.slice(l.lastIndexOf(" ") + 1)));
}

async function scrape(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

async function waitReady(c: IpamClient, logs: () => string): Promise<void> {
  await waitFor("ready", async () => {
    const s = await c.status({}, { deadlineMs: 5000 });
    return s.state === ReadyState.READY ? true : undefined;
  }).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n${logs()}`);
  });
}

// One TOR-scoped block-mode subnet with an hour of cool-down (nothing leaves cool-down while
// the test runs) and a Pod-scoped spill subnet.
const TOPOLOGY = `version: 1
zones:
  - id: zone-m
    subnetRanges: [10.99.0.0/17]
    pods:
      - id: pod-m1
        subnetRanges: [10.99.0.0/18]
        subnets:
          - id: pod-m1-spill-v4
            cidr: 10.99.48.0/20
            purpose: default
            blockPrefix: 26
        tors:
          - id: tor-m1
            subnets:
              - id: tor-m1-default-v4
                cidr: 10.99.0.0/21
                purpose: default
                blockPrefix: 26
                cooldownSeconds: 3600
`;

describe("metrics of role all (one TOR-scoped and one Pod-scoped subnet)", () => {
  let text = "";
  const subnet = { subnet: "tor-m1-default-v4" };

  beforeAll(async () => {
    const dir = tempDir("ipamd-metrics-families");
    const topology = join(dir, "topology.yaml");
    writeFileSync(topology, TOPOLOGY);
    const port = await freePort();
    const socket = join(dir, "ipamd.sock");
    const p = spawnIpamd("all", [
      ...["--data-dir", join(dir, "data"), "--unix-socket", socket, "--node-id", "m1"],
      ...["--topology", topology, "--tor", "tor-m1"],
      ...["--grpc-addr", "127.0.0.1:0", "--metrics-addr", `127.0.0.1:${port}`],
      ...["--log-level", "warn"],
    ]);
    const c = ipam(socket);
    await waitReady(c, () => logsOf([p]));
    for (let i = 0; i < 7; i++) {
      const r = await c.allocate({ network: "m", containerId: `c${i}`, ifname: "eth0" });
      expect(r.addresses[0]?.subnetId).toBe("tor-m1-default-v4");
    }
    for (let i = 0; i < 3; i++) {
      await c.release({ network: "m", containerId: `c${i}`, ifname: "eth0" });
    }
    text = await scrape(port);
  });

  it("labels subnet and node series with the subnet's TOR, empty for a Pod-scoped subnet", () => {
    const torSubnet = { ...subnet, tor: "tor-m1" };
    expect(samples(text, "ipamd_subnet_capacity_addresses", torSubnet)).toHaveLength(1);
    expect(samples(text, "ipamd_node_held_blocks", torSubnet)).toHaveLength(1);
    expect(
      samples(text, "ipamd_subnet_capacity_addresses", { subnet: "pod-m1-spill-v4", tor: "" }),
    ).toHaveLength(1);
  });

  it("keeps the Raft families and counts the one leader its single-server election made", () => {
    expect(samples(text, "ipamd_raft_role", { role: "leader" })).toEqual([1]);
    expect(samples(text, "ipamd_raft_leader_changes_total")).toEqual([1]);
  });

  it("counts the block-mode addresses cooling on this node in the subnet gauge", () => {
    expect(samples(text, "ipamd_subnet_cooling_down_addresses", subnet)).toEqual([3]);
    expect(samples(text, "ipamd_node_cooling_down_addresses", subnet)).toEqual([3]);
    expect(samples(text, "ipamd_node_allocated_addresses", subnet)).toEqual([4]);
  });
});

describe("metrics of role agent against a role-all server (example topology)", () => {
  let agentText = "";
  let serverText = "";
  const subnet = { subnet: "tor-a1-1-default-v4" };

  beforeAll(async () => {
    const root = tempDir("ipamd-metrics-agent");
    const serverAddress = `127.0.0.1:${await freePort()}`;
    const serverPort = await freePort();
    const agentPort = await freePort();
    const sock = join(root, "agent", "ipamd.sock");
    const server = spawnIpamd("server", [
      ...["--data-dir", join(root, "server"), "--unix-socket", join(root, "server", "s.sock")],
      ...["--grpc-addr", serverAddress, "--metrics-addr", `127.0.0.1:${serverPort}`],
      ...["--node-id", "srv-1", "--tor", "tor-b1-1", "--election-ms", "500"],
      ...["--log-level", "warn"],
    ]);
    const agent = spawnIpamd("agent", [
      ...["--role", "agent", "--servers", serverAddress, "--node-id", "agent-1"],
      ...["--tor", "tor-a1-1", "--data-dir", join(root, "agent"), "--unix-socket", sock],
      ...["--metrics-addr", `127.0.0.1:${agentPort}`, "--log-level", "warn"],
    ]);
    const c = ipam(sock);
    await waitFor("the agent to be ready", async () => {
      const s = await c.status({}, { deadlineMs: 5000 });
      return s.state === ReadyState.READY && s.reason === "" ? true : undefined;
    }).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${logsOf([server, agent])}`);
    });
    await c.allocate({ network: "p", containerId: "a0", ifname: "eth0" });
    await c.allocate({ network: "p", containerId: "a1", ifname: "eth0" });
    await c.release({ network: "p", containerId: "a0", ifname: "eth0" });
    agentText = await scrape(agentPort);
    serverText = await scrape(serverPort);
  });

  it("exports no ipamd_raft_* family on the agent", () => {
    expect(agentText).toContain("ipamd_agent_leader_reachable 1");
    expect(agentText.split("\n").filter((l) => l.includes("ipamd_raft_"))).toEqual([]);
  });

  it("labels the agent's node series with its subnet's TOR", () => {
    const node = { ...subnet, tor: "tor-a1-1" };
    expect(samples(agentText, "ipamd_node_allocated_addresses", node)).toEqual([1]);
    expect(samples(agentText, "ipamd_node_cooling_down_addresses", node)).toEqual([1]);
  });

  it("keeps the Raft families, leader-change counter included, on the server", () => {
    expect(samples(serverText, "ipamd_raft_leader_changes_total")).toEqual([1]);
    const leased = samples(serverText, "ipamd_subnet_leased_blocks", subnet);
    expect(leased).toHaveLength(1);
    expect(leased[0]).toBeGreaterThanOrEqual(1);
  });
});
