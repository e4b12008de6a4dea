import { Cidr } from "@ipam/bitmap";
import { type ClusterClient, Family } from "@ipam/grpc-server";
import { readTopology } from "./cluster-reads.js";
import {
  addressesIn,
  type CheckReport,
  type Finding,
  type RepairAction,
  readAgentState,
  recordHolds,
  runtimeGone,
  viewRef,
} from "./consistency.js";
import type { AgentLink } from "./context.js";
import { type PodReader, podGoneReason } from "./kube-pods.js";

/** What `repair` did about one finding of the report. */
export interface RepairOutcome {
  readonly finding: string;
  readonly type: Finding["type"];
  readonly node: string;
  readonly action: RepairAction | null;
  /**
   * `repaired`: the action ran; `gone`: re-checked, no longer in the reported state (nothing
   * done); `manual`: the tool does not repair this kind; `unchecked`: could not re-check
   * (nothing done).
   */
  readonly outcome: "repaired" | "gone" | "manual" | "unchecked";
  readonly message: string;
}

/**
 * Repairs what `report` lists and only that: each finding is re-checked now and acted on only
 * while it is still in the reported state (the same block still held by the same node and
 * still not leased to it; the same direct address still held for the same key with no record;
 * the same node's agent still silent while it still holds what was reported; the same record
 * still held and still not in its network's latest runtime view). Findings are
 * handled one at a time, in report order.
 */
export async function repairFromReport(
  cluster: ClusterClient,
  agents: readonly AgentLink[],
  report: CheckReport,
  pods?: PodReader,
): Promise<RepairOutcome[]> {
  const topology = await readTopology(cluster);
  const out: RepairOutcome[] = [];
  const agentOf = async (node: string) => {
    for (const a of agents) {
      if (a.nodeId !== undefined && a.nodeId !== node) continue;
      try {
        const state = await readAgentState(a);
        if (state.node === node) return state;
      } catch {
        // an agent that does not answer is not this node's view
      }
    }
    return undefined;
  };
  for (const f of report.findings) {
    const done = (outcome: RepairOutcome["outcome"], message: string) =>
      out.push({ finding: f.id, type: f.type, node: f.node, action: f.repair, outcome, message });
    if (f.repair === null) {
      done("manual", `not repaired by ipamctl: ${f.detail}`);
      continue;
    }
    if (f.repair === "lease-back") {
      const cidr = f.block ?? "";
      const state = await agentOf(f.node);
      if (state === undefined) {
        done("unchecked", `${f.node}'s agent not given or not answering: give it with --node`);
        continue;
      }
      const stillHeld = state.blocks.has(cidr) ? addressesIn(state.records, cidr) : [];
      const block = Cidr.parse(cidr);
      const subnet = [...topology.subnets.values()].find((s) =>
        Cidr.parse(s.cidr).contains(block.first),
      );
      const leased = subnet === undefined ? "" : await leaseOf(cluster, subnet.id, cidr);
      if (subnet === undefined || stillHeld.length === 0 || leased !== "") {
        done(
          "gone",
          subnet === undefined
            ? `${cidr} is in no subnet any more: nothing done`
            : stillHeld.length === 0
              ? `${f.node} holds nothing in ${cidr} any more: nothing done`
              : `${cidr} is leased to ${leased} now: nothing done (check again)`,
        );
        continue;
      }
      await cluster.leaseBlock({
        nodeId: f.node,
        purpose: subnet.purpose,
        family: subnet.family === 6 ? Family.IPV6 : Family.IPV4,
        subnetId: subnet.id,
        requestId: `ipamctl-repair-${report.checkedAt}-${f.id}`,
        address: stillHeld[0] ?? "",
      });
      done(
        "repaired",
        `leased ${cidr} back to ${f.node}, which holds ${stillHeld.length} addresses there`,
      );
      continue;
    }
    if (f.repair === "release-record" && f.type === "runtime-gone") {
      const key = f.key;
      const state = await agentOf(f.node);
      if (state === undefined || key === undefined) {
        done("unchecked", `${f.node}'s agent not given or not answering: give it with --node`);
        continue;
      }
      const gone = runtimeGone(state, key);
      const same =
        gone !== undefined &&
        f.addresses.every((a) => gone.record.addresses.some((x) => x.address === a));
      if (gone === undefined || !same) {
        done(
          "gone",
          `${f.node} no longer holds that record of ${key.containerId}/${key.ifname}, or the latest CNI GC view of ${key.network} lists it: nothing done`,
        );
        continue;
      }
      const ref = viewRef(gone.view, new Date());
      const r = await state.client.release(key);
      done(
        "repaired",
        `released ${r.addresses.join(", ")} (${key.containerId}/${key.ifname} on ${f.node}): not in the runtime's CNI GC view of ${key.network} of ${ref.receivedAt}`,
      );
      continue;
    }
    if (f.repair === "release-record") {
      const key = f.key;
      const pod = f.pod;
      const state = await agentOf(f.node);
      if (state === undefined || key === undefined || pod === undefined || pods === undefined) {
        done(
          "unchecked",
          pods === undefined
            ? "give --kubeconfig (or --kubernetes) so that repair can re-check the pod"
            : `${f.node}'s agent not given or not answering: give it with --node`,
        );
        continue;
      }
      const record = state.records.find(
        (r) =>
          r.key?.network === key.network &&
          r.key?.containerId === key.containerId &&
          r.key?.ifname === key.ifname,
      );
      const same =
        record !== undefined &&
        record.podNamespace === pod.namespace &&
        record.podName === pod.name &&
        record.podUid === pod.uid &&
        f.addresses.every((a) => record.addresses.some((x) => x.address === a));
      const reason = same
        ? podGoneReason(pod, await pods.readPod(pod.namespace, pod.name))
        : undefined;
      if (!same || reason === undefined) {
        done(
          "gone",
          same
            ? `pod ${pod.namespace}/${pod.name} exists again with UID ${pod.uid === "" ? "(none recorded)" : pod.uid}: nothing done`
            : `${f.node} no longer holds that record of ${key.containerId}/${key.ifname}: nothing done`,
        );
        continue;
      }
      const r = await state.client.release(key);
      done(
        "repaired",
        `released ${r.addresses.join(", ")} (${key.containerId}/${key.ifname} on ${f.node}): ${reason}`,
      );
      continue;
    }
    if (f.repair === "release-direct") {
      const key = f.key;
      const address = f.addresses[0] ?? "";
      const state = await agentOf(f.node);
      if (state === undefined || key === undefined) {
        done("unchecked", `${f.node}'s agent not given or not answering: give it with --node`);
        continue;
      }
      const leases = await cluster.getNodeLeases({ nodeId: f.node });
      const still = leases.direct.some(
        (d) =>
          d.address?.address === address &&
          d.key?.network === key.network &&
          d.key?.containerId === key.containerId &&
          d.key?.ifname === key.ifname,
      );
      if (!still || recordHolds(state, key, address)) {
        done("gone", `${address} is no longer a leaked direct address of ${f.node}: nothing done`);
        continue;
      }
      const r = await cluster.releaseDirect({ keys: [key] });
      const freed = r.results.flatMap((x) => x.addresses);
      done(
        "repaired",
        `released ${freed.join(", ")} (${key.containerId}/${key.ifname} on ${f.node})`,
      );
      continue;
    }
    // declare-dead
    const answering = agents.filter((a) => a.nodeId === f.node);
    let silent = answering.length > 0;
    for (const a of answering) {
      try {
        await a.client.status({});
        silent = false;
      } catch {
        // still silent
      }
    }
    if (!silent) {
      done(
        answering.length === 0 ? "unchecked" : "gone",
        answering.length === 0
          ? `give ${f.node}'s agent (--node ${f.node}=ADDR) so that repair can re-check it does not answer`
          : `${f.node}'s agent answers now: not declared dead`,
      );
      continue;
    }
    const leases = await cluster.getNodeLeases({ nodeId: f.node });
    const holds = new Set([
      ...leases.blocks.map((b) => b.cidr),
      ...leases.direct.map((d) => d.address?.address ?? ""),
    ]);
    if (!f.addresses.some((a) => holds.has(a))) {
      done("gone", `${f.node} holds none of the reported blocks any more: nothing done`);
      continue;
    }
    const r = await cluster.deregisterNode({ nodeId: f.node, force: false, dead: true });
    done(
      "repaired",
      `declared ${f.node} dead: ${r.releasedBlocks} blocks and ${r.releasedAddresses} direct addresses freed`,
    );
  }
  return out;
}

/** The node `cidr` is leased to in `subnet` now ("" when free). */
async function leaseOf(cluster: ClusterClient, subnet: string, cidr: string): Promise<string> {
  let pageToken = "";
  do {
    const page = await cluster.listBlocks({
      subnetId: subnet,
      nodeId: "",
      pageSize: 1000,
      pageToken,
    });
    const hit = page.blocks.find((b) => b.cidr === cidr);
    if (hit !== undefined) return hit.nodeId;
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return "";
}
