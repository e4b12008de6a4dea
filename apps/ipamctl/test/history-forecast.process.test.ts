// `ipamctl history` and `ipamctl forecast` against a real cluster: three `ipamd --role server`
// processes and two agents on loopback (apps/ipamd's fixture), the built `ipamctl` run as a
// process; every --json document checked against its schema in docs/ipamctl/schemas.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Ajv } from "ajv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ClusterFixture, startCluster } from "../../ipamd/test/helpers/cluster-fixture.js";
import { killAll, tempDir, waitFor } from "../../ipamd/test/helpers/processes.js";
import { ipamctl, jsonOf } from "./helpers/ipamctl.js";

const SCHEMAS = fileURLToPath(new URL("../../../docs/ipamctl/schemas/", import.meta.url));
const ajv = new Ajv({ strict: true, allErrors: true });
ajv.addFormat("date-time", /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);

const compiled = new Map<string, ReturnType<typeof ajv.compile>>();

/** The schema errors of a --json document by its kind ("" when valid). */
function schemaErrors(doc: Record<string, unknown>): string {
  const kind = String(doc.kind);
  let validate = compiled.get(kind);
  if (validate === undefined) {
    const schema = JSON.parse(readFileSync(`${SCHEMAS}${kind}.schema.json`, "utf8")) as object;
    validate = ajv.compile(schema);
    compiled.set(kind, validate);
  }
  return validate(doc) ? "" : JSON.stringify(validate.errors, null, 2);
}

let cluster: ClusterFixture;
let env: Record<string, string>;

beforeAll(async () => {
  cluster = await startCluster(tempDir("ipamctl-history"));
  env = { IPAMD_SERVERS: cluster.servers.map((s) => s.address).join(",") };
}, 180_000);

afterAll(async () => {
  cluster?.close();
  await killAll();
});

interface EventDoc {
  event: string;
  node: string;
  time: string;
  timeUnixMs: number;
  pod: { namespace: string; name: string; uid: string } | null;
}

describe("ipamctl history", () => {
  it("lists who held an address with the pod, in order, after its node is SIGKILLed; --at names the holder", async () => {
    const a = await cluster.startAgent("node-a", "tor-a1-1");
    const key = { network: "pods", containerId: "c-audit", ifname: "eth0" };
    const r = await a.ipam.allocate({
      ...key,
      podNamespace: "payments",
      podName: "api-7",
      podUid: "0d7c6f3e-5a1b-4c7e-9f00-123456789abc",
    });
    const address = r.addresses[0]?.address ?? "";
    await a.ipam.release(key);
    await waitFor("both events on the servers", async () => {
      const h = await cluster.l1.addressHistory({ address });
      return h.events.length === 2 ? h : undefined;
    });
    a.proc.kill("SIGKILL");
    await a.proc.exited();

    const run = await ipamctl(["history", "--ip", address, "--json"], env);
    expect(run.code, run.stderr).toBe(0);
    const doc = jsonOf(run);
    expect(schemaErrors(doc)).toBe("");
    const events = doc.events as EventDoc[];
    expect(events.map((e) => `${e.event} ${e.node} ${e.pod?.name}`)).toEqual([
      "allocate node-a api-7",
      "release node-a api-7",
    ]);
    expect(events[0]?.pod).toEqual({
      namespace: "payments",
      name: "api-7",
      uid: "0d7c6f3e-5a1b-4c7e-9f00-123456789abc",
    });

    const first = events[0] as EventDoc;
    const at = await ipamctl(["history", "--ip", address, "--at", first.time, "--json"], env);
    expect(at.code, at.stderr).toBe(0);
    const atDoc = jsonOf(at);
    expect(schemaErrors(atDoc)).toBe("");
    const holders = (atDoc.at as { holders: EventDoc[] }).holders;
    expect(holders.map((h) => h.pod?.name)).toEqual(["api-7"]);

    const human = await ipamctl(["history", "--ip", address, "--at", first.time], env);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain(`${address}: 2 events`);
    expect(human.stdout).toContain("held by payments/api-7 on node-a");
    expect(human.stdout).toMatch(/release\s+node-a\s+payments\/api-7/);

    const later = (events[1]?.timeUnixMs ?? 0) + 1;
    const since = await ipamctl(
      ["history", "--ip", address, "--since", new Date(later).toISOString(), "--json"],
      env,
    );
    expect(jsonOf(since).events).toEqual([]);
    const free = await ipamctl(
      ["history", "--ip", address, "--at", new Date(later).toISOString()],
      env,
    );
    expect(free.stdout).toContain(": free");
  });

  it("refuses a bad time naming the flag (exit 2) and a bad address (exit 2)", async () => {
    const bad = await ipamctl(["history", "--ip", "10.0.0.1", "--at", "yesterday"], env);
    expect(bad.code, bad.stderr).toBe(2);
    expect(bad.stderr).toContain("--at:");
    const badIp = await ipamctl(["history", "--ip", "10.0.0.300"], env);
    expect(badIp.code, badIp.stderr).toBe(2);
    expect(badIp.stderr).toContain("address");
  });
});

describe("ipamctl forecast", () => {
  it("says no growth for idle places and a finite time to full while allocating", async () => {
    const idle = await ipamctl(["forecast", "--tor", "tor-a1-2", "--json"], env);
    expect(idle.code, idle.stderr).toBe(0);
    const idleDoc = jsonOf(idle);
    expect(schemaErrors(idleDoc)).toBe("");
    for (const e of idleDoc.entries as { fullInSeconds: number | null }[]) {
      expect(e.fullInSeconds).toBeNull();
    }
    const b = await cluster.startAgent("node-b", "tor-a1-1");
    for (let i = 0; i < 30; i++) {
      await b.ipam.allocate({ network: "pods", containerId: `steady-${i}`, ifname: "eth0" });
    }
    const args = ["forecast", "--tor", "tor-a1-1", "--purpose", "default", "--family", "4"];
    const doc = await waitFor("the allocations in the forecast", async () => {
      const run = await ipamctl([...args, "--json"], env);
      const d = jsonOf(run);
      // Held comes from the agents' reports (every few seconds): wait for the one after the work.
      const e = (d.entries as { samples: number; held: string }[])[0];
      return e !== undefined && e.samples >= 30 && BigInt(e.held) >= 30n ? d : undefined;
    });
    expect(schemaErrors(doc)).toBe("");
    const entry = (doc.entries as { fullInSeconds: number | null; held: string; tor: string }[])[0];
    expect(entry?.tor).toBe("tor-a1-1");
    expect(entry?.fullInSeconds).toBeGreaterThan(0);
    expect(BigInt(entry?.held ?? "0")).toBeGreaterThanOrEqual(30n);
    const human = await ipamctl(args, env);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(
      /^tor-a1-1 default v4: [\d.]+ % held, full in ~\d+ \w+ at the last .+ rate \(\d+ events, R² [\d.]+\)$/m,
    );
  });

  it("refuses a bad family or window naming the flag", async () => {
    const family = await ipamctl(["forecast", "--family", "5"], env);
    expect(family.code, family.stderr).toBe(2);
    expect(family.stderr).toContain("--family:");
    const window = await ipamctl(["forecast", "--window", "soon"], env);
    expect(window.code, window.stderr).toBe(2);
    expect(window.stderr).toContain("--window:");
  });
});
