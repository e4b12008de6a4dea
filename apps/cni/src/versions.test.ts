import { describe, expect, it } from "vitest";
import { parseCniArgs } from "./cni-args.js";
import type { CniError } from "./cni-error.js";
import { compareVersions, negotiateVersion } from "./versions.js";

describe("negotiateVersion", () => {
  it("prefers a supported cniVersion, else the highest supported of cniVersions", () => {
    expect(negotiateVersion("0.4.0", ["1.1.0"])).toBe("0.4.0");
    expect(negotiateVersion("2.0.0", ["0.3.1", "1.0.0", "2.0.0"])).toBe("1.0.0");
    expect(negotiateVersion(undefined, ["1.1.0", "0.3.0"])).toBe("1.1.0");
  });

  it("rejects what it cannot speak with INCOMPATIBLE_VERSION", () => {
    for (const [v, vs] of [
      ["0.2.0", undefined],
      [undefined, undefined],
      [undefined, ["0.1.0"]],
    ] as const) {
      expect(() => negotiateVersion(v, vs)).toThrow(
        expect.objectContaining({ code: "INCOMPATIBLE_VERSION" }) as CniError,
      );
    }
  });

  it("compares numerically", () => {
    expect(compareVersions("0.10.0", "0.4.0")).toBeGreaterThan(0);
    expect(compareVersions("1.0.0", "1.0.0")).toBe(0);
  });
});

describe("parseCniArgs", () => {
  it("reads pod identity and static IPs, refusing unknown keys without IgnoreUnknown", () => {
    expect(parseCniArgs("K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;IP=10.99.0.9,fd99::9")).toEqual({
      podNamespace: "ns",
      podName: "p",
      ips: ["10.99.0.9", "fd99::9"],
    });
    expect(parseCniArgs("K8S_POD_NAME=p;K8S_POD_UID=9f0c-7e")).toEqual({
      podName: "p",
      podUid: "9f0c-7e",
      ips: [],
    });
    expect(parseCniArgs(undefined)).toEqual({ ips: [] });
    expect(parseCniArgs("IgnoreUnknown=true;X=1").ips).toEqual([]);
    expect(() => parseCniArgs("X=1")).toThrow(/unknown key "X"/);
    expect(() => parseCniArgs("novalue")).toThrow(/not a KEY=VALUE pair/);
  });
});
