import { Cluster, Ipam, Raft } from "@ipam/grpc-client/messages";
import { describe, expect, it } from "vitest";
import { IPAM_ACCESS_POLICY, isOpenMethod } from "./access-policy.js";
import { methodLabel } from "./service-definition.js";

describe("IPAM_ACCESS_POLICY", () => {
  it("names every method of the Cluster, Ipam and Raft services, and nothing else", () => {
    const methods = [Cluster, Ipam, Raft].flatMap((s) => s.methods.map(methodLabel));
    // A method added to a .proto without a rule would silently be reserved to servers and
    // operators, which would refuse nodes an RPC they need (or let them fall to the default).
    expect(methods.filter((m) => !IPAM_ACCESS_POLICY.has(m))).toEqual([]);
    expect([...IPAM_ACCESS_POLICY.keys()].filter((m) => !methods.includes(m))).toEqual([]);
    expect(methods.some(isOpenMethod)).toBe(false);
  });

  it("reserves the Raft peer service to servers", () => {
    for (const method of Raft.methods.map(methodLabel)) {
      expect(IPAM_ACCESS_POLICY.get(method)?.roles).toEqual(["server"]);
    }
  });
});
