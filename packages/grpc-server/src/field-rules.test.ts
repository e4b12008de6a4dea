import { create } from "@bufbuild/protobuf";
import {
  AllocateRequestSchema,
  GarbageCollectRequestSchema,
  RegisterNodeRequestSchema,
} from "@ipam/grpc-client/messages";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkMessage } from "./field-rules.js";
import {
  CLUSTER_REQUEST_LIMITS,
  containerId,
  IPAM_REQUEST_LIMITS,
  interfaceName,
  labelKey,
  labelValue,
  networkName,
  podName,
  podNamespace,
} from "./request-limits.js";

const ok = (rule: { problem: (v: string, p: string) => string | undefined }, value: string) =>
  rule.problem(value, "f") === undefined;

describe("CNI names (CNI spec rules)", () => {
  it("take a letter or digit then letters, digits, '_', '.', '-', up to 255 characters", () => {
    for (const good of ["a", "pods", "k8s-pod-network", "my_net.v2", "0", "x".repeat(255)]) {
      expect(ok(networkName, good), good).toBe(true);
      expect(ok(containerId, good), good).toBe(true);
    }
    for (const bad of ["-a", ".a", "_a", "a b", "a/b", "é", "a\u0000", "x".repeat(256)]) {
      expect(ok(networkName, bad), bad).toBe(false);
      expect(ok(containerId, bad), bad).toBe(false);
    }
  });

  it("interface names: at most 15 bytes, not . or .., no '/', ':', whitespace, control", () => {
    for (const good of ["eth0", "net1", "e".repeat(15), "vlan.100", "@x", "ü".repeat(7)]) {
      expect(ok(interfaceName, good), good).toBe(true);
    }
    const bad = [".", "..", "e".repeat(16), "ü".repeat(8), "a/b", "a:b", "a b", "a\tb", "a\u007f"];
    for (const value of bad) expect(ok(interfaceName, value), value).toBe(false);
  });

  it("never accept an interface name longer than IFNAMSIZ - 1 bytes (property)", () => {
    // Any code point but a lone surrogate (what fast-check's "binary" unit draws, without the
    // seconds its tables take to build on first use), half of them printable ASCII so that
    // many names are accepted and the property is tested on them.
    const codePoint = fc
      .oneof(
        fc.integer({ min: 0x20, max: 0x7e }),
        fc.integer({ min: 0, max: 0x10ffff }).filter((c) => c < 0xd800 || c > 0xdfff),
      )
      .map((c) => String.fromCodePoint(c));
    fc.assert(
      fc.property(fc.string({ unit: codePoint, maxLength: 24 }), (value) => {
        if (ok(interfaceName, value) && value !== "") {
          expect(Buffer.byteLength(value)).toBeLessThanOrEqual(15);
          expect(/[/:\s]/u.test(value)).toBe(false);
        }
      }),
      { numRuns: 100 },
    );
  });
});

describe("Kubernetes names", () => {
  it("namespaces are RFC 1123 labels, pod names RFC 1123 subdomains", () => {
    expect(ok(podNamespace, "kube-system")).toBe(true);
    expect(ok(podNamespace, "Kube")).toBe(false);
    expect(ok(podNamespace, "a.b")).toBe(false);
    expect(ok(podNamespace, "a".repeat(64))).toBe(false);
    expect(ok(podName, "web-0.shard-1")).toBe(true);
    expect(ok(podName, "web_0")).toBe(false);
    expect(ok(podName, "-web")).toBe(false);
    expect(ok(podName, "a".repeat(254))).toBe(false);
  });

  it("label keys are [prefix/]name and values at most 63 characters", () => {
    for (const good of ["app", "topology.kubernetes.io/zone", "a.b-c_d", "x/y"]) {
      expect(ok(labelKey, good), good).toBe(true);
    }
    for (const bad of ["-app", "app-", "Topology.io/zone", "a/b/c", "/x", "a/", "k".repeat(64)]) {
      expect(ok(labelKey, bad), bad).toBe(false);
    }
    expect(ok(labelValue, "")).toBe(true);
    expect(ok(labelValue, "v1.2_3")).toBe(true);
    expect(ok(labelValue, "v".repeat(64))).toBe(false);
    expect(ok(labelValue, "has space")).toBe(false);
  });
});

describe("checkMessage", () => {
  it("names the nested field with proto names and says the limit", () => {
    const request = create(GarbageCollectRequestSchema, {
      network: "pods",
      validAttachments: [
        { containerId: "c1", ifname: "eth0" },
        { containerId: "c2", ifname: "a/b" },
      ],
    });
    expect(() => checkMessage(IPAM_REQUEST_LIMITS.garbageCollect, request)).toThrowError(
      /^valid_attachments\[1\]\.ifname: "a\/b" is not allowed; limit: at most 15 bytes/,
    );
  });

  it("cuts the value it quotes: an error never echoes megabytes back", () => {
    const request = create(AllocateRequestSchema, { network: `-${"n".repeat(1000)}` });
    try {
      checkMessage(IPAM_REQUEST_LIMITS.allocate, request);
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message.length).toBeLessThan(300);
      expect(error).toMatchObject({
        code: "INVALID_ARGUMENT",
        details: { field: "network", limit: expect.stringContaining("at most 255") },
      });
    }
  });

  it("bounds labels per node, their keys and their values", () => {
    const labels = Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`k${i}`, "v"]));
    const many = create(RegisterNodeRequestSchema, { nodeId: "n1", torId: "t1", labels });
    expect(() => checkMessage(CLUSTER_REQUEST_LIMITS.registerNode, many)).toThrowError(
      /^labels: 257 entries; limit: at most 256 entries/,
    );
    const badValue = create(RegisterNodeRequestSchema, { labels: { app: "x".repeat(1 << 16) } });
    expect(() => checkMessage(CLUSTER_REQUEST_LIMITS.registerNode, badValue)).toThrowError(
      /^labels\["app"\]: 65536 characters/,
    );
    const badKey = create(RegisterNodeRequestSchema, { labels: { "bad key": "v" } });
    expect(() => checkMessage(CLUSTER_REQUEST_LIMITS.registerNode, badKey)).toThrowError(
      /^labels key: "bad key" is not a label name/,
    );
  });

  it("passes empty strings: required fields are the handlers' to name", () => {
    expect(() =>
      checkMessage(IPAM_REQUEST_LIMITS.allocate, create(AllocateRequestSchema, {})),
    ).not.toThrow();
  });
});
