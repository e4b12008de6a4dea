import type { PeerCertificate } from "node:tls";
import { describe, expect, it } from "vitest";
import { describePeer, peerIdentity } from "./peer-identity.js";

/** The parts of a parsed certificate identities are read from. */
function cert(subject: Record<string, string | string[]>, san?: string): PeerCertificate {
  return { subject, ...(san === undefined ? {} : { subjectaltname: san }) } as PeerCertificate;
}

describe("peerIdentity", () => {
  it("reads the role and id from a SPIFFE SAN URI, which wins over the subject", () => {
    const c = cert({ CN: "x", OU: "operator" }, "DNS:n1.example, URI:spiffe://ipam.test/node/n1");
    expect(peerIdentity(c)).toEqual({ role: "node", id: "n1" });
  });

  it("keeps to the configured trust domain", () => {
    const c = cert({ CN: "s1" }, "URI:spiffe://other.example/server/s1");
    expect(peerIdentity(c, { trustDomain: "ipam.test" })).toBeUndefined();
    expect(peerIdentity(c, { trustDomain: "other.example" })).toEqual({ role: "server", id: "s1" });
  });

  it("falls back to an OU naming the role, with the CN as id, and the OUs can be renamed", () => {
    expect(peerIdentity(cert({ CN: "alice", OU: ["staff", "operator"] }))).toEqual({
      role: "operator",
      id: "alice",
    });
    const roleOus = { server: "ipam-servers", node: "ipam-nodes", operator: "ipam-ops" };
    expect(peerIdentity(cert({ CN: "n7", OU: "ipam-nodes" }), { roleOus })).toEqual({
      role: "node",
      id: "n7",
    });
    expect(peerIdentity(cert({ CN: "n7", OU: "node" }), { roleOus })).toBeUndefined();
  });

  it("names no identity for a certificate without a role, and says so when describing it", () => {
    const c = cert({ CN: "nobody" }, "URI:https://example.com/x");
    expect(peerIdentity(c)).toBeUndefined();
    expect(describePeer(undefined, c)).toBe(
      "certificate CN=nobody (URI https://example.com/x) with no server, node or operator identity",
    );
    expect(describePeer({ role: "node", id: "n1" }, c)).toBe("node n1");
  });
});
