import type { V1Node } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { DEFAULT_LABELS } from "./k8s-config.js";
import { nodeVerdict } from "./node-controller.js";

const config = {
  zoneLabel: DEFAULT_LABELS.zone,
  podLabel: DEFAULT_LABELS.pod,
  torLabel: DEFAULT_LABELS.tor,
  nodeGraceMs: 300_000,
};
const NOW = Date.parse("2026-01-01T12:00:00Z");

function node(tor: string, ready: "True" | "False" | "Unknown", since: number): V1Node {
  return {
    metadata: { name: "n1", labels: { [DEFAULT_LABELS.tor]: tor } },
    status: {
      conditions: [{ type: "Ready", status: ready, lastTransitionTime: new Date(since) }],
    },
  };
}

describe("nodeVerdict", () => {
  it("deleted, moved, NotReady past the grace, else keep", () => {
    expect(nodeVerdict({ tor: "t1" }, undefined, config, NOW)).toBe("deleted");
    expect(nodeVerdict({ tor: "t1" }, node("t2", "True", NOW), config, NOW)).toBe("moved");
    expect(nodeVerdict({ tor: "t1" }, node("t1", "Unknown", NOW - 300_000), config, NOW)).toBe(
      "not-ready",
    );
    expect(nodeVerdict({ tor: "t1" }, node("t1", "False", NOW - 299_999), config, NOW)).toBe(
      "keep",
    );
    expect(nodeVerdict({ tor: "t1" }, node("t1", "True", NOW - 10_000_000), config, NOW)).toBe(
      "keep",
    );
  });

  it("with a grace of 0, NotReady never revokes", () => {
    const n = node("t1", "False", 0);
    expect(nodeVerdict({ tor: "t1" }, n, { ...config, nodeGraceMs: 0 }, NOW)).toBe("keep");
  });
});
