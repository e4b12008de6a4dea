import type { IpamMetrics } from "../src/index.js";

/**
 * Drives every metric of the set through its public helpers and sources, the way the daemon
 * would, with realistic label values (subnet ids, purposes, codes: never an address or a pod).
 */
export async function populateEverything(metrics: IpamMetrics): Promise<void> {
  const v4 = { subnet: "tor1-storage-v4", purpose: "storage", family: 4 } as const;
  const v6 = { subnet: "pod1-default-v6", purpose: "default", family: 6 } as const;
  metrics.observeAllocation("ok", v4, 0.0021);
  metrics.observeAllocation("ok", v6, 0.0021);
  metrics.observeAllocation("POOL_EXHAUSTED", { purpose: "storage", family: 4 }, 0.0004);
  metrics.observeRelease("ok", v4, 0.0012);
  metrics.observeRelease("ok", {}, 0.0001);
  metrics.countPreallocation("requested", v4);
  metrics.countPreallocation("leased", v4);
  metrics.countPreallocation("capped", v6);
  metrics.observeGc({ result: "ok", purpose: "storage", candidates: 3, reclaimed: 2 });
  metrics.observeRaftApply(0.0003, 12);
  metrics.observeRaftLeader("server-1", 2);
  metrics.observeProposal("ok", 0.004);
  metrics.observeProposal("NOT_LEADER", 0.0001);
  metrics.observeSnapshot("create", 0.35, 1_048_576);
  metrics.observeSnapshot("restore", 0.2);
  metrics.observeStoreTransaction("append_log", "ok", 0.0009);
  metrics.observeStoreTransaction("put_records", "DISK_FULL", 0.002);
  metrics.observeStoreBatch(17);
  metrics.observeGrpcRequest("/ipam.v1.Ipam/Allocate", 0, 0.003);
  metrics.observeGrpcRequest("/ipam.v1.Cluster/LeaseBlock", 9, 0.01);
  metrics.countGrpcRefusal("incomplete_request");
  metrics.countUncaughtError("zlib");
  await metrics.time(metrics.raftProposalDuration, {}, async () => "ok", metrics.raftProposals);
  metrics.setPoolSource(() => [
    {
      ...v4,
      tor: "t1",
      capacityAddresses: 256,
      reservedAddresses: 3,
      allocatedAddresses: 128,
      coolingDownAddresses: 1,
      capacityBlocks: 4,
      leasedBlocks: 2,
    },
    {
      ...v6,
      capacityAddresses: 2n ** 80n,
      reservedAddresses: 1n,
      allocatedAddresses: 2n ** 16n,
      coolingDownAddresses: 0n,
      capacityBlocks: 2n ** 74n,
      leasedBlocks: 1n,
    },
  ]);
  metrics.setNodePoolSource(async () => [
    {
      ...v4,
      tor: "t1",
      heldBlocks: 2,
      heldAddresses: 128,
      allocatedAddresses: 40,
      coolingDownAddresses: 2,
    },
  ]);
  metrics.setRaftSource(() => ({
    term: 7,
    role: "leader",
    commit: 1200,
    applied: 1199,
    leader: "server-1",
  }));
  metrics.setAgentSource(() => ({ leaderReachable: true, quorumAvailable: true }));
  // One failing source read, so the error counter has a sample too; then a good source again.
  metrics.setAgentSource(() => {
    throw new Error("agent status unavailable");
  });
  await metrics.registry.metrics();
  metrics.setAgentSource(() => ({ leaderReachable: true, quorumAvailable: true }));
  metrics.setForecastSource(() => [
    { zone: "z1", pod: "p1", tor: "t1", purpose: "default", family: 4, fullInSeconds: 86_400 },
  ]);
}
