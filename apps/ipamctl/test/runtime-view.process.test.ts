// `ipamctl check` against the container runtime's view (CNI GC), on a real cluster (three
// `ipamd --role server` processes and an agent on loopback): a direct-mode record whose GC
// release failed because the cluster servers were down (SIGKILL) is found as `runtime-gone`
// once they are back, and `repair --from-report` releases exactly it.
import { Family, type IpamClient } from "@ipam/grpc-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AgentProc,
  type ClusterFixture,
  startCluster,
} from "../../ipamd/test/helpers/cluster-fixture.js";
import { killAll, logsOf, tempDir, waitFor } from "../../ipamd/test/helpers/processes.js";
import { TOR } from "../../ipamd/test/helpers/servers.js";
import { validDoc } from "./helpers/documents.js";
import { ipamctl, jsonOf } from "./helpers/ipamctl.js";
import { schemaErrors } from "./helpers/schemas.js";

let cluster: ClusterFixture;
let agent: AgentProc;
let env: Record<string, string>;

/**
 * Allocates as the CNI runtime would, retrying a "try again" answer (UNAVAILABLE, or a purpose
 * the agent has not heard of yet right after `subnet add`).
 */
async function allocate(network: string, id: string, purpose = "default") {
  return waitFor(
    `${id} to be allocated (${purpose})`,
    async () => {
      try {
        const r = await agent.ipam.allocate({
          network,
          containerId: id,
          ifname: "eth0",
          purpose,
          podNamespace: "team",
          podName: `pod-${id}`,
        });
        return r.addresses.map((a) => a.address);
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (code === "UNAVAILABLE" || code === "INVALID_ARGUMENT") return undefined;
        throw err;
      }
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );
}

/** The agent's records as `containerId@network`, sorted (read here on its own). */
async function recordsOn(client: IpamClient): Promise<string[]> {
  const page = await client.listAllocations({
    network: "",
    purpose: "",
    pageSize: 1000,
    pageToken: "",
  });
  return page.allocations.map((a) => `${a.key?.containerId}@${a.key?.network}`).sort();
}

beforeAll(async () => {
  cluster = await startCluster(tempDir("ipamctl-runtime-view"));
  agent = await cluster.startAgent("rv-a1", TOR);
  env = { IPAMD_SERVERS: cluster.servers.map((s) => s.address).join(",") };
}, 180_000);

afterAll(async () => {
  cluster?.close();
  await killAll();
});

describe("ipamctl check: the runtime's CNI GC view", () => {
  it("finds a record the runtime's GC could not release (cluster down) and repair releases exactly it", async () => {
    const root = tempDir("ipamctl-runtime-view-report");
    validDoc(
      await ipamctl(
        [
          "subnet",
          "add",
          "rv-direct",
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
      cluster,
    );
    const kept = await allocate("net", "kept");
    const [goneAddress] = await allocate("net", "gone", "direct");
    // A block-mode record the runtime no longer has either: the GC releases it on the node even
    // though the cluster is down (block-mode releases need no cluster).
    await allocate("net", "stale");
    expect(goneAddress).toMatch(/^10\.99\.41\./);
    // A network whose runtime never runs CNI GC.
    await allocate("other", "other-1");

    // The cluster servers die: the GC's release of the direct-mode record fails, and the
    // record stays (the agent does not retry a failed GC by itself: the runtime would).
    for (const s of cluster.servers) s.proc.kill("SIGKILL");
    await Promise.all(cluster.servers.map((s) => s.proc.exited()));
    await expect(
      agent.ipam.garbageCollect(
        { network: "net", validAttachments: [{ containerId: "kept", ifname: "eth0" }] },
        { deadlineMs: 120_000 },
      ),
    ).rejects.toMatchObject({ code: "UNAVAILABLE" });
    expect(await recordsOn(agent.ipam)).toContain("gone@net");
    expect(await recordsOn(agent.ipam)).not.toContain("stale@net");

    for (const s of cluster.servers) cluster.restartServer(s);
    await cluster.leader();
    // Created after the view and not in it: not a finding (the runtime had not seen it yet).
    await allocate("net", "fresh");

    const agents = ["--node", `rv-a1=unix:${agent.socket}`, "--timeout", "10"];
    const reportFile = `${root}/report.json`;
    const check = await ipamctl(["check", "--json", "--output", reportFile, ...agents], env);
    expect(check.code, `${check.stderr}\n${logsOf(cluster.procs(), 5)}`).toBe(3);
    const report = jsonOf(check);
    expect(schemaErrors(report)).toBe("");
    type F = {
      id: string;
      type: string;
      node: string;
      key?: { network: string; containerId: string };
      addresses: string[];
      runtimeView?: { network: string; receivedAt: string; ageSeconds: number };
      repair: string | null;
    };
    const findings = report.findings as F[];
    expect(findings.map((f) => `${f.type} ${f.key?.containerId ?? ""}`)).toEqual([
      "runtime-gone gone",
    ]);
    const [gone] = findings;
    expect(gone).toMatchObject({
      node: "rv-a1",
      key: { network: "net", containerId: "gone" },
      addresses: [goneAddress],
      repair: "release-record",
      runtimeView: { network: "net" },
    });
    expect(gone?.runtimeView?.ageSeconds).toBeGreaterThanOrEqual(0);
    const views = report.runtimeViews as {
      network: string;
      receivedAt: string | null;
      validAttachments: number;
    }[];
    expect(views.map((v) => [v.network, v.receivedAt === null, v.validAttachments])).toEqual([
      ["net", false, 1],
      ["other", true, 0],
    ]);
    const text = await ipamctl(["check", ...agents], env);
    expect(text.code, text.stderr).toBe(3);
    expect(text.stdout).toContain(
      "rv-a1 other: no runtime view (the runtime never ran CNI GC): its 1 records are not checked",
    );
    expect(text.stdout).toContain("runtime-gone");

    const before = await recordsOn(agent.ipam);
    const repair = await ipamctl(["repair", "--from-report", reportFile, "--json", ...agents], env);
    expect(repair.code, repair.stderr).toBe(0);
    const result = jsonOf(repair);
    expect(schemaErrors(result)).toBe("");
    const outcomes = result.outcomes as { finding: string; outcome: string; message: string }[];
    expect(outcomes.map((o) => `${o.finding} ${o.outcome}`)).toEqual([`${gone?.id} repaired`]);
    expect(outcomes[0]?.message).toContain(goneAddress);
    // Exactly it: every other record is still held, and the cluster no longer holds its address.
    expect(await recordsOn(agent.ipam)).toEqual(before.filter((r) => r !== "gone@net"));
    const direct = (await cluster.l1.getNodeLeases({ nodeId: "rv-a1" })).direct;
    expect(direct.map((d) => d.address?.address)).not.toContain(goneAddress);
    const keptNow = await agent.ipam.check({
      network: "net",
      containerId: "kept",
      ifname: "eth0",
      addresses: kept,
    });
    expect(keptNow.ok).toBe(true);
    expect(keptNow.addresses.map((a) => a.family)).toContain(Family.IPV4);

    // From the same report again: re-checked, no longer in that state, nothing done.
    const again = await ipamctl(["repair", "--from-report", reportFile, "--json", ...agents], env);
    expect(again.code, again.stderr).toBe(0);
    const second = jsonOf(again).outcomes as { outcome: string }[];
    expect(second.map((o) => o.outcome)).toEqual(["gone"]);
    const clean = await ipamctl(["check", "--json", ...agents], env);
    expect(clean.code, clean.stderr).toBe(0);
  }, 300_000);
});
