// `ipamctl subnet carve` against a real three-server cluster on loopback (apps/ipamd's
// fixture): the built `ipamctl` run as a process, every --json document checked against its
// schema (docs/ipamctl/schemas), and the carved subnet drained, removed and given back to its
// supernet.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TopologyConfig } from "@ipam/topology";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ClusterFixture, startCluster } from "../../ipamd/test/helpers/cluster-fixture.js";
import { killAll, tempDir, waitFor } from "../../ipamd/test/helpers/processes.js";
import { validDoc } from "./helpers/documents.js";
import { type IpamctlRun, ipamctl } from "./helpers/ipamctl.js";

const TEST_MS = 240_000;

/** One pod with a supernet for `default`; TOR t1 has a subnet inside it, t2 none yet. */
const topology: TopologyConfig = {
  zones: [
    {
      id: "z",
      pods: [
        {
          id: "p",
          supernets: [{ cidr: "10.99.72.0/22", prefix: 24, blockPrefix: 26, threshold: 0.9 }],
          tors: [
            {
              id: "t1",
              subnets: [{ id: "t1-default", cidr: "10.99.72.0/24", blockPrefix: 26 }],
              nodes: [{ id: "n1" }],
            },
            { id: "t2", nodes: [{ id: "n2" }] },
          ],
        },
      ],
    },
  ],
};

let cluster: ClusterFixture;
let env: Record<string, string>;

function valid(run: IpamctlRun, kind: string): Record<string, unknown> {
  return validDoc(run, kind, cluster);
}

beforeAll(async () => {
  const root = tempDir("ipamctl-carve");
  const file = join(root, "topology.json");
  writeFileSync(file, JSON.stringify(topology));
  cluster = await startCluster(root, ["--topology", file]);
  env = { IPAMD_SERVERS: cluster.servers.map((s) => s.address).join(",") };
  await waitFor("the topology file applied", async () =>
    (await cluster.l1.getTopology({})).topologyJson.includes("t1-default") ? true : undefined,
  );
}, TEST_MS);

afterAll(async () => {
  cluster?.close();
  await killAll();
});

describe("ipamctl subnet carve", () => {
  it(
    "carves the adjacent /24 for a TOR, answers a re-run with the same request id, and refuses naming the flag",
    async () => {
      const args = ["subnet", "carve", "--tor", "t1", "--request-id", "ctl-1", "--json"];
      const doc = valid(await ipamctl(args, env), "SubnetCarve");
      expect(doc).toMatchObject({
        cidr: "10.99.73.0/24",
        tor: "t1",
        purpose: "default",
        family: "ipv4",
        mode: "block",
        blockPrefix: 26,
        carved: true,
        supernet: "10.99.72.0/22",
        supernetScope: "pod:p",
        placement: "adjacent",
        torSubnets: 2,
        requestId: "ctl-1",
      });
      const again = valid(await ipamctl(args, env), "SubnetCarve");
      expect(again).toMatchObject({ cidr: "10.99.73.0/24", carved: false, supernet: null });

      const text = await ipamctl(["subnet", "carve", "--tor", "t2", "--prefix-length", "25"], env);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toContain("carved 10.99.74.0/25 for TOR t2");
      expect(text.stdout).toContain("first free slot");

      const unknown = await ipamctl(["subnet", "carve", "--tor", "t9"], env);
      expect(unknown.code, unknown.stderr).toBe(6);
      expect(unknown.stderr).toContain("carve-subnet.tor");
      const badPrefix = await ipamctl(
        ["subnet", "carve", "--tor", "t1", "--prefix-length", "27"],
        env,
      );
      expect(badPrefix.code, badPrefix.stderr).toBe(2);
      expect(badPrefix.stderr).toContain("carve-subnet.prefix");
      const noSupernet = await ipamctl(
        ["subnet", "carve", "--tor", "t1", "--purpose", "storage"],
        env,
      );
      expect(noSupernet.code, noSupernet.stderr).toBe(6);
      expect(noSupernet.stderr).toContain("supernet");
      const list = valid(await ipamctl(["subnet", "list", "--json"], env), "SubnetList");
      // Who manages each subnet, and the strategy that governs it (the default: zone).
      expect(
        (list.subnets as { id: string; origin: string; strategy: string }[]).map((s) => [
          s.id,
          s.origin,
          s.strategy,
        ]),
      ).toEqual([
        ["10.99.73.0/24", "carved", "zone"],
        ["10.99.74.0/25", "carved", "zone"],
        ["t1-default", "file", "zone"],
      ]);
      const usage = await ipamctl(["subnet", "carve", "--tor", "t1", "--prefix-length", "x"], env);
      expect(usage.code, usage.stderr).toBe(2);
      expect(usage.stderr).toContain("--prefix-length");
    },
    TEST_MS,
  );

  it(
    "a drained and removed carved subnet is returned to its supernet and can be carved again",
    async () => {
      const drained = await ipamctl(["subnet", "drain", "10.99.73.0/24", "--wait", "--json"], env);
      expect(drained.code, drained.stderr).toBe(0);
      const removed = valid(
        await ipamctl(["subnet", "remove", "10.99.73.0/24", "--json"], env),
        "SubnetRemove",
      );
      expect(removed).toMatchObject({
        existed: true,
        removing: false,
        returnedToSupernet: "10.99.72.0/22",
      });
      const list = valid(await ipamctl(["subnet", "list", "--json"], env), "SubnetList");
      expect((list.subnets as { id: string }[]).map((s) => s.id)).not.toContain("10.99.73.0/24");
      const again = valid(
        await ipamctl(["subnet", "carve", "--tor", "t1", "--request-id", "ctl-2", "--json"], env),
        "SubnetCarve",
      );
      expect(again).toMatchObject({ cidr: "10.99.73.0/24", carved: true, placement: "adjacent" });
      await waitFor("the return in a server's log", () =>
        cluster
          .procs()
          .some((p) => p.log.some((l) => l.includes("carved subnet returned to supernet")))
          ? true
          : undefined,
      );
    },
    TEST_MS,
  );
});
