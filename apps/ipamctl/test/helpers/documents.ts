// What the ipamctl process tests repeat around a real cluster: a --json document that must be
// valid, and an allocation made as the CNI runtime makes it.
import { expect } from "vitest";
import type { AgentProc } from "../../../ipamd/test/helpers/cluster-fixture.js";
import { type IpamdProcess, logsOf } from "../../../ipamd/test/helpers/processes.js";
import { type IpamctlRun, jsonOf } from "./ipamctl.js";
import { schemaErrors } from "./schemas.js";

/**
 * The JSON document of a run that must succeed: exit 0, `apiVersion: ipamctl/v1`, the `kind`
 * expected, valid against its schema. A failure shows stderr and the cluster's last log lines.
 */
export function validDoc(
  run: IpamctlRun,
  kind: string,
  cluster: { procs(): IpamdProcess[] },
): Record<string, unknown> {
  expect(run.code, `${run.stderr}\n${logsOf(cluster.procs(), 5)}`).toBe(0);
  const doc = jsonOf(run);
  expect(doc.apiVersion).toBe("ipamctl/v1");
  expect(doc.kind).toBe(kind);
  expect(schemaErrors(doc)).toBe("");
  return doc;
}

/**
 * Allocates as the CNI runtime would: a "try again" answer (UNAVAILABLE: a direct-mode purpose
 * while the agent cannot reach the cluster in time, on a loaded machine) is retried for a minute.
 */
export async function allocateAsRuntime(agent: AgentProc, id: string, purpose = "default") {
  const until = Date.now() + 60_000;
  for (;;) {
    try {
      const r = await agent.ipam.allocate({
        network: "net",
        containerId: id,
        ifname: "eth0",
        purpose,
        podNamespace: "team",
        podName: `pod-${id}`,
      });
      return r.addresses;
    } catch (err) {
      if ((err as { code?: unknown }).code !== "UNAVAILABLE" || Date.now() > until) throw err;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}
