import { register as globalRegistry, Registry } from "prom-client";
import { describe, expect, it, vi } from "vitest";
import { familyNames, parseExposition, sampleValue } from "../test/exposition.js";
import { populateEverything } from "../test/populate.js";
import { createIpamMetrics, IPAM_METRIC_NAMES, RAFT_METRIC_NAMES } from "./ipam-metrics.js";
import { isMetricsError } from "./metrics-error.js";
import type { PoolSnapshot } from "./sources.js";

const v4 = { subnet: "tor1-storage-v4", purpose: "storage", family: 4 } as const;

function pool(allocated: number): PoolSnapshot {
  return {
    ...v4,
    capacityAddresses: 256,
    reservedAddresses: 3,
    allocatedAddresses: allocated,
    coolingDownAddresses: 0,
    capacityBlocks: 4,
    leasedBlocks: 1,
  };
}

async function scrape(registry: Registry) {
  return parseExposition(await registry.metrics());
}

describe("createIpamMetrics", () => {
  it("registers every metric on the given registry and nothing on the global one", async () => {
    const registry = new Registry();
    createIpamMetrics(registry);
    expect(familyNames(await registry.metrics())).toEqual([...IPAM_METRIC_NAMES]);
    expect(globalRegistry.getMetricsAsArray()).toHaveLength(0);
  });

  it("exports a sample for every metric once the daemon has driven each path", async () => {
    const registry = new Registry();
    const metrics = createIpamMetrics(registry);
    await populateEverything(metrics);
    const names = new Set((await scrape(registry)).map((s) => s.name));
    const missing = IPAM_METRIC_NAMES.filter((n) => !names.has(n) && !names.has(`${n}_count`));
    expect(missing).toEqual([]);
  });

  it("counts allocations per subnet and result, and times them per purpose and family", async () => {
    const registry = new Registry();
    const metrics = createIpamMetrics(registry);
    metrics.observeAllocation("ok", v4, 0.002);
    metrics.observeAllocation("ok", v4, 0.004);
    metrics.observeAllocation("POOL_EXHAUSTED", { purpose: "storage", family: 4 }, 0.0001);
    metrics.observeAllocation("disk on fire at 10.0.0.1", { purpose: "storage", family: 6 }, 0);
    const s = await scrape(registry);
    const ok = { subnet: "tor1-storage-v4", purpose: "storage", family: "ipv4", result: "ok" };
    expect(sampleValue(s, "ipamd_allocations_total", ok)).toBe(2);
    expect(
      sampleValue(s, "ipamd_allocations_total", { subnet: "", result: "POOL_EXHAUSTED" }),
    ).toBe(1);
    expect(sampleValue(s, "ipamd_allocations_total", { family: "ipv6", result: "INTERNAL" })).toBe(
      1,
    );
    const timing = { purpose: "storage", family: "ipv4", result: "ok" };
    expect(sampleValue(s, "ipamd_allocation_duration_seconds_count", timing)).toBe(2);
    expect(sampleValue(s, "ipamd_allocation_duration_seconds_sum", timing)).toBeCloseTo(0.006, 9);
    expect(
      sampleValue(s, "ipamd_allocation_duration_seconds_bucket", { ...timing, le: "0.0025" }),
    ).toBe(1);
  });

  it("records releases, pre-allocation, GC, Raft, store and gRPC observations", async () => {
    const registry = new Registry();
    const metrics = createIpamMetrics(registry);
    metrics.observeRelease("ok", {}, 0.001);
    metrics.countPreallocation("returned", v4);
    metrics.observeGc({ result: "ok", purpose: "storage", candidates: 5, reclaimed: 4 });
    metrics.observeRaftApply(0.002, 40);
    metrics.observeRaftApply(0.001);
    metrics.observeSnapshot("create", 1.5, 4096);
    metrics.observeSnapshot("restore", 0.5);
    metrics.observeStoreTransaction("append_log", "LOCKED", 0.2);
    metrics.observeStoreBatch(33);
    metrics.observeGrpcRequest("/ipam.v1.Ipam/Release", "NOT_FOUND", 0.001);
    metrics.observeGrpcRequest("/ipam.v1.Ipam/Release", 99, 0.001);
    const s = await scrape(registry);
    expect(sampleValue(s, "ipamd_releases_total", { subnet: "", purpose: "", result: "ok" })).toBe(
      1,
    );
    expect(sampleValue(s, "ipamd_preallocation_events_total", { event: "returned" })).toBe(1);
    expect(sampleValue(s, "ipamd_gc_runs_total", { result: "ok" })).toBe(1);
    expect(sampleValue(s, "ipamd_gc_candidates_total", { purpose: "storage" })).toBe(5);
    expect(sampleValue(s, "ipamd_gc_reclaimed_total", { purpose: "storage" })).toBe(4);
    expect(sampleValue(s, "ipamd_raft_apply_duration_seconds_count")).toBe(2);
    expect(sampleValue(s, "ipamd_raft_applied_entries_total")).toBe(41);
    expect(sampleValue(s, "ipamd_raft_snapshot_size_bytes")).toBe(4096);
    expect(sampleValue(s, "ipamd_raft_snapshot_duration_seconds_count", { op: "restore" })).toBe(1);
    expect(
      sampleValue(s, "ipamd_store_transactions_total", { op: "append_log", result: "LOCKED" }),
    ).toBe(1);
    expect(sampleValue(s, "ipamd_store_batch_operations_bucket", { le: "64" })).toBe(1);
    expect(sampleValue(s, "ipamd_store_batch_operations_bucket", { le: "32" })).toBe(0);
    const release = { method: "ipam.v1.Ipam/Release" };
    expect(sampleValue(s, "ipamd_grpc_requests_total", { ...release, code: "NOT_FOUND" })).toBe(1);
    expect(sampleValue(s, "ipamd_grpc_requests_total", { ...release, code: "UNKNOWN" })).toBe(1);
    expect(sampleValue(s, "ipamd_grpc_request_duration_seconds_count", release)).toBe(2);
  });

  it("counts gRPC refusals and uncaught errors with bounded labels", async () => {
    const registry = new Registry();
    const metrics = createIpamMetrics(registry);
    metrics.countGrpcRefusal("incomplete_request");
    metrics.countGrpcRefusal("incomplete_request");
    metrics.countGrpcRefusal("/ipam.v1.Ipam/Allocate?x=1"); // never a peer's path as a label
    metrics.countUncaughtError("zlib");
    metrics.countUncaughtError("nonsense" as never);
    const s = await scrape(registry);
    expect(sampleValue(s, "ipamd_grpc_refused_total", { reason: "incomplete_request" })).toBe(2);
    expect(sampleValue(s, "ipamd_grpc_refused_total", { reason: "other" })).toBe(1);
    expect(sampleValue(s, "ipamd_uncaught_errors_total", { kind: "zlib" })).toBe(1);
    expect(sampleValue(s, "ipamd_uncaught_errors_total", { kind: "bug" })).toBe(1);
  });

  it("times operations with its injected clock through time()", async () => {
    let t = 100;
    const registry = new Registry();
    const metrics = createIpamMetrics(registry, { now: () => t });
    await metrics.time(metrics.raftProposalDuration, {}, () => {
      t += 0.25;
    });
    const s = await scrape(registry);
    expect(sampleValue(s, "ipamd_raft_proposal_duration_seconds_sum", { result: "ok" })).toBe(0.25);
  });

  it("exports build info", async () => {
    const registry = new Registry();
    createIpamMetrics(registry, { buildInfo: { version: "1.2.3", revision: "abc123" } });
    const s = await scrape(registry);
    expect(
      sampleValue(s, "ipamd_build_info", {
        version: "1.2.3",
        revision: "abc123",
        nodejs_version: process.versions.node,
      }),
    ).toBe(1);
  });

  it("uses bucket overrides", async () => {
    const registry = new Registry();
    const metrics = createIpamMetrics(registry, { buckets: { grpc: [0.1, 1] } });
    metrics.observeGrpcRequest("ipam.v1.Ipam/Status", 0, 0.5);
    const buckets = (await scrape(registry))
      .filter((s) => s.name === "ipamd_grpc_request_duration_seconds_bucket")
      .map((s) => s.labels.le);
    expect(buckets).toEqual(["0.1", "1", "+Inf"]);
  });

  it("refuses a second registration on the same registry without registering anything", () => {
    const registry = new Registry();
    createIpamMetrics(registry);
    const count = registry.getMetricsAsArray().length;
    expect(() => createIpamMetrics(registry)).toThrow(
      expect.objectContaining({ code: "CONFLICT", name: "MetricsError" }),
    );
    expect(registry.getMetricsAsArray()).toHaveLength(count);
    expect(() => createIpamMetrics(new Registry())).not.toThrow();
  });

  it("rejects bad durations, counts and buckets with the field named", () => {
    const metrics = createIpamMetrics(new Registry());
    const cases: [() => void, string][] = [
      [() => metrics.observeAllocation("ok", v4, -1), "seconds: -1"],
      [() => metrics.observeProposal("ok", Number.NaN), "seconds: NaN"],
      [
        () => metrics.observeGc({ result: "ok", purpose: "x", candidates: 1.5, reclaimed: 0 }),
        "candidates: 1.5",
      ],
      [() => metrics.observeStoreBatch(-2), "operations: -2"],
      [() => metrics.observeSnapshot("create", 1, Number.POSITIVE_INFINITY), "sizeBytes: Infinity"],
      [
        () => createIpamMetrics(new Registry(), { buckets: { snapshot: [1, 1] } }),
        "buckets.snapshot",
      ],
    ];
    for (const [call, field] of cases) {
      let caught: unknown;
      try {
        call();
      } catch (error) {
        caught = error;
      }
      expect(isMetricsError(caught, "INVALID_ARGUMENT")).toBe(true);
      expect((caught as Error).message).toContain(field);
    }
  });

  it("registers no Raft family with raft: false, and its Raft helpers still work", async () => {
    const registry = new Registry();
    const metrics = createIpamMetrics(registry, { raft: false });
    await populateEverything(metrics);
    const names = familyNames(await registry.metrics());
    expect(RAFT_METRIC_NAMES.length).toBeGreaterThan(10);
    expect(names.filter((n) => n.startsWith("ipamd_raft_"))).toEqual([]);
    expect(names).toEqual(IPAM_METRIC_NAMES.filter((n) => !RAFT_METRIC_NAMES.includes(n)));
    // A registry that already holds a Raft family is no conflict for an agent's set.
    const other = new Registry();
    other.registerMetric(createIpamMetrics(new Registry()).raftLeaderChanges);
    expect(() => createIpamMetrics(other, { raft: false })).not.toThrow();
  });

  it("counts a leader change once per new leader id or term with a leader", async () => {
    const registry = new Registry();
    const metrics = createIpamMetrics(registry);
    const changes = async () =>
      sampleValue(await scrape(registry), "ipamd_raft_leader_changes_total");
    expect(await changes()).toBe(0);
    metrics.observeRaftLeader(null, 1);
    expect(await changes()).toBe(0);
    metrics.observeRaftLeader("server-1", 1);
    metrics.observeRaftLeader("server-1", 1);
    expect(await changes()).toBe(1);
    metrics.observeRaftLeader(null, 2);
    metrics.observeRaftLeader("server-2", 2);
    expect(await changes()).toBe(2);
    metrics.observeRaftLeader("server-2", 3);
    expect(await changes()).toBe(3);
  });

  it("adds default process metrics only when asked", async () => {
    const plain = new Registry();
    createIpamMetrics(plain);
    expect(familyNames(await plain.metrics())).not.toContain("process_cpu_user_seconds_total");
    const withDefaults = new Registry();
    createIpamMetrics(withDefaults, { collectDefaultMetrics: true });
    expect(familyNames(await withDefaults.metrics())).toContain("process_cpu_user_seconds_total");
  });
});

describe("scrape-time gauges", () => {
  it("export the tor a row gives, and an empty tor for a row without one", async () => {
    const registry = new Registry();
    const metrics = createIpamMetrics(registry);
    metrics.setPoolSource(() => [
      { ...pool(1), tor: "tor1" },
      { ...pool(2), subnet: "pod1-spill-v4" },
    ]);
    const s = await scrape(registry);
    expect(sampleValue(s, "ipamd_subnet_allocated_addresses", { tor: "tor1" })).toBe(1);
    expect(
      sampleValue(s, "ipamd_subnet_allocated_addresses", { subnet: "pod1-spill-v4", tor: "" }),
    ).toBe(2);
  });

  it("read the source on every scrape, once per scrape for all the gauges it feeds", async () => {
    const registry = new Registry();
    const metrics = createIpamMetrics(registry);
    let allocated = 10;
    const source = vi.fn(() => [pool(allocated)]);
    metrics.setPoolSource(source);
    const labels = { subnet: "tor1-storage-v4", family: "ipv4", tor: "" };
    let s = await scrape(registry);
    expect(source).toHaveBeenCalledTimes(1);
    expect(sampleValue(s, "ipamd_subnet_allocated_addresses", labels)).toBe(10);
    expect(sampleValue(s, "ipamd_subnet_capacity_addresses", labels)).toBe(256);
    expect(sampleValue(s, "ipamd_subnet_leased_blocks", labels)).toBe(1);
    allocated = 11;
    s = await scrape(registry);
    expect(source).toHaveBeenCalledTimes(2);
    expect(sampleValue(s, "ipamd_subnet_allocated_addresses", labels)).toBe(11);
  });

  it("drop series of subnets the source no longer reports", async () => {
    const registry = new Registry();
    const metrics = createIpamMetrics(registry);
    let rows = [pool(1), { ...pool(2), subnet: "tor2-storage-v4" }];
    metrics.setPoolSource(() => rows);
    expect(
      (await scrape(registry)).filter((s) => s.name === "ipamd_subnet_allocated_addresses"),
    ).toHaveLength(2);
    rows = [pool(1)];
    expect(
      (await scrape(registry)).filter((s) => s.name === "ipamd_subnet_allocated_addresses"),
    ).toHaveLength(1);
  });

  it("wait for async sources and export IPv6-sized bigint counts", async () => {
    const registry = new Registry();
    const metrics = createIpamMetrics(registry);
    metrics.setNodePoolSource(async () => {
      await new Promise((resolve) => setImmediate(resolve));
      return [
        {
          subnet: "v6",
          purpose: "default",
          family: 6,
          heldBlocks: 1n,
          heldAddresses: 2n ** 64n,
          allocatedAddresses: 3n,
          coolingDownAddresses: 0n,
        },
      ];
    });
    const s = await scrape(registry);
    expect(sampleValue(s, "ipamd_node_held_addresses", { family: "ipv6" })).toBe(2 ** 64);
    expect(sampleValue(s, "ipamd_node_allocated_addresses", { subnet: "v6" })).toBe(3);
  });

  it("report the Raft role as one series per role and whether a leader is known", async () => {
    const registry = new Registry();
    const metrics = createIpamMetrics(registry);
    let leader: string | null = null;
    metrics.setRaftSource(() => ({ term: 3, role: "candidate", commit: 9, applied: 8, leader }));
    let s = await scrape(registry);
    expect(
      s.filter((x) => x.name === "ipamd_raft_role").map((x) => [x.labels.role, x.value]),
    ).toEqual([
      ["follower", 0],
      ["pre-candidate", 0],
      ["candidate", 1],
      ["leader", 0],
    ]);
    expect(sampleValue(s, "ipamd_raft_term")).toBe(3);
    expect(sampleValue(s, "ipamd_raft_commit_index")).toBe(9);
    expect(sampleValue(s, "ipamd_raft_applied_index")).toBe(8);
    expect(sampleValue(s, "ipamd_raft_has_leader")).toBe(0);
    leader = "server-2";
    s = await scrape(registry);
    expect(sampleValue(s, "ipamd_raft_has_leader")).toBe(1);
  });

  it("export nothing without a source, or when the source has nothing to report", async () => {
    const registry = new Registry();
    const metrics = createIpamMetrics(registry);
    // In registration order, as the exposition lists them.
    const gauges = [
      "ipamd_subnet_leased_blocks",
      "ipamd_raft_term",
      "ipamd_agent_leader_reachable",
    ];
    const present = async () =>
      (await scrape(registry)).filter((s) => gauges.includes(s.name)).map((s) => s.name);
    expect(await present()).toEqual([]);
    metrics.setRaftSource(() => ({ term: 1, role: "leader", commit: 1, applied: 1, leader: "a" }));
    metrics.setAgentSource(() => ({ leaderReachable: false, quorumAvailable: true }));
    metrics.setPoolSource(() => [pool(0)]);
    expect(await present()).toEqual(gauges);
    metrics.setRaftSource(() => undefined);
    metrics.setAgentSource(undefined);
    metrics.setPoolSource(undefined);
    expect(await present()).toEqual([]);
  });

  it("export the forecast per place, purpose and family, +Inf when not growing", async () => {
    const registry = new Registry();
    const metrics = createIpamMetrics(registry);
    const place = { zone: "z1", pod: "p1", tor: "t1", purpose: "default" };
    metrics.setForecastSource(() => [
      { ...place, family: 4, fullInSeconds: 3600 },
      { ...place, family: 6, fullInSeconds: undefined },
    ]);
    const s = await scrape(registry);
    const name = "ipamd_pool_forecast_full_seconds";
    expect(sampleValue(s, name, { ...place, family: "ipv4" })).toBe(3600);
    expect(sampleValue(s, name, { ...place, family: "ipv6" })).toBe(Number.POSITIVE_INFINITY);
    metrics.setForecastSource(undefined);
    expect((await scrape(registry)).filter((x) => x.name === name)).toEqual([]);
  });

  it("survive a failing source: empty gauges, a counted error, a log line, a good scrape", async () => {
    const registry = new Registry();
    const warn = vi.fn();
    const metrics = createIpamMetrics(registry, { logger: { warn, error: vi.fn() } });
    let fail = true;
    metrics.setAgentSource(() => {
      if (fail) throw Object.assign(new Error("leader lookup failed"), { code: "UNAVAILABLE" });
      return { leaderReachable: true, quorumAvailable: false, lostBlocks: 2 };
    });
    metrics.setRaftSource(() => Promise.reject(new Error("raft stopped")));
    let s = await scrape(registry);
    expect(s.filter((x) => x.name.startsWith("ipamd_agent_"))).toEqual([]);
    expect(sampleValue(s, "ipamd_metrics_source_errors_total", { source: "agent" })).toBe(1);
    expect(sampleValue(s, "ipamd_metrics_source_errors_total", { source: "raft" })).toBe(1);
    expect(warn).toHaveBeenCalledWith(
      expect.objectContaining({
        source: "agent",
        err: expect.objectContaining({ code: "UNAVAILABLE" }),
      }),
      "metrics gauge source failed",
    );
    fail = false;
    s = await scrape(registry);
    expect(sampleValue(s, "ipamd_agent_leader_reachable")).toBe(1);
    expect(sampleValue(s, "ipamd_agent_quorum_available")).toBe(0);
    expect(sampleValue(s, "ipamd_agent_lost_blocks")).toBe(2);
    expect(sampleValue(s, "ipamd_metrics_source_errors_total", { source: "agent" })).toBe(1);
  });
});
