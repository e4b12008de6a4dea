import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createIpamClient, ReadyState } from "@ipam/grpc-server";
import { exampleTopologyYaml } from "@ipam/topology";
import { afterAll, describe, expect, it } from "vitest";
import { waitFor } from "./helpers/processes.js";

const MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));
let child: ChildProcess | undefined;

afterAll(() => {
  if (child?.exitCode === null && child.pid !== undefined) process.kill(child.pid, "SIGKILL");
});

describe("topology file reload", () => {
  it("rejects a bad file, logs why, keeps serving the old topology, and reports it in metrics", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ipamd-topo-"));
    const file = join(dir, "topology.yaml");
    writeFileSync(file, exampleTopologyYaml);
    const socket = join(dir, "ipamd.sock");
    let stderr = "";
    child = spawn(
      process.execPath,
      [MAIN, "--data-dir", dir, "--unix-socket", socket, "--grpc-addr", "127.0.0.1:0"].concat([
        "--metrics-addr",
        "127.0.0.1:0",
        "--topology",
        file,
        "--node-id",
        "node-r",
      ]),
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const client = createIpamClient({ addresses: [`unix:${socket}`], deadlineMs: 60_000 });
    await waitFor("ready", async () => {
      const s = await client.status({}, { deadlineMs: 5000 });
      return s.state === ReadyState.READY ? true : undefined;
    });
    const before = await client.allocate({ network: "n", containerId: "a", ifname: "eth0" });
    writeFileSync(
      file,
      "zones:\n  - id: z\n    pods: [{ id: p, tors: [{ id: t, subnets: [{ cidr: 10.0.0.0/33 }] }] }]\n",
    );
    child.kill("SIGHUP");
    await waitFor("the rejection in the log", async () =>
      stderr.includes("rejected, keeping the running one") ? true : undefined,
    );
    const after = await client.allocate({ network: "n", containerId: "b", ifname: "eth0" });
    expect(after.addresses[0]?.subnetId).toBe(before.addresses[0]?.subnetId);
    expect(after.addresses[0]?.address).not.toBe(before.addresses[0]?.address);
    const port = /metrics on http:\/\/127\.0\.0\.1:(\d+)/.exec(stderr)?.[1];
    expect(port, stderr).toBeDefined();
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(ready.status).toBe(200);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).toMatch(/ipamd_allocations_total\{[^}]*result="ok"\} 2/);
    expect(text).toContain('ipamd_raft_role{role="leader"} 1');
    client.close();
  });
});
