import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { createIpamClient, FamilySelection, ReadyState } from "@ipam/grpc-server";
import { afterAll, describe, expect, it } from "vitest";
import { ownFamilies } from "./helpers/exposition.js";
import { freePort, killAll, spawnIpamd, tempDir, waitFor } from "./helpers/processes.js";

// The embedded default's /metrics after real work: every path's counter moved (allocation,
// release, gRPC, Raft proposals and applies, store group commits), and promtool accepts the
// daemon's own families when it is installed (CI installs the prometheus package).

const promtool = spawnSync("promtool", ["--version"], { encoding: "utf8" });
const hasPromtool = promtool.error === undefined && promtool.status === 0;

afterAll(() => killAll());

/** The value of the first sample of `name` whose labels contain every `labels` pair. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) {
      return Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return Number.NaN;
}

describe("ipamd role all: metrics on every path", () => {
  it("counts allocations, releases, gRPC calls, Raft proposals and store commits", async () => {
    const dir = tempDir("ipamd-metrics");
    const port = await freePort();
    const socket = join(dir, "ipamd.sock");
    spawnIpamd("all", [
      ...["--data-dir", dir, "--unix-socket", socket, "--node-id", "m1"],
      ...["--grpc-addr", "127.0.0.1:0", "--metrics-addr", `127.0.0.1:${port}`],
      ...["--log-level", "warn"],
    ]);
    const client = createIpamClient({ addresses: [`unix:${socket}`] });
    await waitFor("ready", async () => {
      const s = await client.status({}, { deadlineMs: 5000 });
      return s.state === ReadyState.READY ? true : undefined;
    });
    // Five dual-stack pods; two go away (DEL); c2 stays valid; c3 and c4 are left for GC.
    for (let i = 0; i < 5; i++) {
      const key = { network: "m", containerId: `c${i}`, ifname: "eth0" };
      await client.allocate({ ...key, families: FamilySelection.DUAL_STACK });
      if (i < 2) await client.release(key);
    }
    // A failed request is counted with its code; GC reclaims what is not valid any more.
    await expect(
      client.allocate({ network: "m", containerId: "x", ifname: "eth0", purpose: "gpu" }),
    ).rejects.toMatchObject({ code: expect.any(String) });
    const gc = await client.garbageCollect({
      network: "m",
      validAttachments: [{ containerId: "c2", ifname: "eth0" }],
    });
    expect(gc.released).toHaveLength(2);
    client.close();
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(sample(text, "ipamd_allocations_total", { result: "ok", family: "ipv4" })).toBe(5);
    expect(sample(text, "ipamd_allocations_total", { result: "ok", family: "ipv6" })).toBe(5);
    expect(sample(text, "ipamd_allocations_total", { purpose: "gpu" })).toBe(1);
    expect(sample(text, "ipamd_allocations_total", { purpose: "gpu", result: "ok" })).toBeNaN();
    // Two dual-stack releases: four addresses.
    const released = text
      .split("\n")
      .filter((l) => l.startsWith("ipamd_releases_total{") && l.includes('result="ok"'))
      .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
    expect(released).toBe(4);
    expect(sample(text, "ipamd_gc_runs_total", { result: "ok" })).toBe(1);
    expect(sample(text, "ipamd_gc_reclaimed_total", { purpose: "default" })).toBe(2);
    expect(sample(text, "ipamd_grpc_requests_total", { code: "OK" })).toBeGreaterThanOrEqual(1);
    expect(sample(text, "ipamd_raft_proposals_total", { result: "ok" })).toBeGreaterThanOrEqual(1);
    expect(sample(text, "ipamd_raft_applied_entries_total")).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, "ipamd_store_transactions_total", { op: "group_commit", result: "ok" }),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(text, "ipamd_store_batch_operations_count")).toBeGreaterThanOrEqual(1);
    expect(sample(text, "ipamd_raft_role", { role: "leader" })).toBe(1);
    if (hasPromtool) {
      // Our families only: prom-client's default ones include gauges named `_total`.
      const lint = spawnSync("promtool", ["check", "metrics"], {
        input: ownFamilies(text),
        encoding: "utf8",
      });
      expect(`${lint.stdout}${lint.stderr}`).toBe("");
      expect(lint.status).toBe(0);
    }
  });
});
