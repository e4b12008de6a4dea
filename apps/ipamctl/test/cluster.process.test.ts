// ipamctl against a real cluster: three `ipamd --role server` processes and two agents on
// loopback (apps/ipamd's fixture), the built `ipamctl` run as a process for each command.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ClusterFixture, startCluster } from "../../ipamd/test/helpers/cluster-fixture.js";
import { killAll, tempDir } from "../../ipamd/test/helpers/processes.js";
import { ipamctl, jsonOf } from "./helpers/ipamctl.js";

let cluster: ClusterFixture;
let servers: string;

beforeAll(async () => {
  cluster = await startCluster(tempDir("ipamctl-cluster"));
  servers = cluster.servers.map((s) => s.address).join(",");
}, 180_000);

afterAll(async () => {
  cluster?.close();
  await killAll();
});

describe("ipamctl members", () => {
  it("lists the three servers and marks the leader, as JSON and as a table", async () => {
    const leader = await cluster.leader();
    const run = await ipamctl(["members", "--json"], { IPAMD_SERVERS: servers });
    expect(run.code, run.stderr).toBe(0);
    const doc = jsonOf(run);
    expect(doc.apiVersion).toBe("ipamctl/v1");
    expect(doc.kind).toBe("Members");
    expect(doc.leader).toBe(leader.id);
    const members = doc.members as { id: string; address: string; role: string }[];
    expect(members.map((m) => m.id).sort()).toEqual(["s1", "s2", "s3"]);
    expect(new Set(members.map((m) => m.address))).toEqual(
      new Set(cluster.servers.map((s) => s.address)),
    );
    const table = await ipamctl(["members", "--server", servers]);
    expect(table.code, table.stderr).toBe(0);
    const leaderLine = table.stdout.split("\n").find((l) => l.startsWith(leader.id));
    expect(leaderLine).toMatch(/voter\s+\*$/);
  });

  it("exits 4 naming the servers when none answers", async () => {
    const run = await ipamctl(["members", "--server", "127.0.0.1:1", "--timeout", "2"]);
    expect(run.code).toBe(4);
    expect(run.stderr).toContain("127.0.0.1:1");
  });
});
