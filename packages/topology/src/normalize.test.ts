import { describe, expect, it } from "vitest";
import type { SubnetConfig } from "./config-schema.js";
import { isDirectMode } from "./model.js";
import { type IssueSink, normalizeSubnet } from "./normalize.js";

const scope = { kind: "tor", id: "t1" } as const;

function ok(raw: SubnetConfig) {
  const issues: IssueSink = [];
  const result = normalizeSubnet(raw, scope, "s", issues);
  expect(issues).toEqual([]);
  return result!.subnet;
}

function problems(raw: SubnetConfig): IssueSink {
  const issues: IssueSink = [];
  expect(normalizeSubnet(raw, scope, "s", issues)).toBeUndefined();
  return issues;
}

describe("subnet defaults", () => {
  it("fills id, purpose, gateway, blockPrefix, priority and cooldown", () => {
    expect(ok({ cidr: "10.0.0.0/24" })).toEqual({
      id: "10.0.0.0/24",
      cidr: "10.0.0.0/24",
      family: 4,
      purpose: "default",
      scope: { kind: "tor", id: "t1" },
      gateway: "10.0.0.1",
      reserved: [],
      blockPrefix: 26,
      priority: 100,
      cooldownSeconds: 30,
    });
  });

  it("canonicalizes IPv6 text and defaults to /122 blocks and the ::1 gateway", () => {
    const s = ok({ cidr: "FD99:0000:0:0::/64" });
    expect([s.id, s.cidr, s.family, s.gateway, s.blockPrefix]).toEqual([
      "fd99::/64",
      "fd99::/64",
      6,
      "fd99::1",
      122,
    ]);
  });

  it("raises the default block prefix to the subnet's own when the subnet is smaller", () => {
    expect(ok({ cidr: "10.0.0.0/28" }).blockPrefix).toBe(28);
  });

  it("has no default gateway on /31, /32, /127 and /128", () => {
    for (const cidr of ["10.0.0.0/31", "10.0.0.7/32", "fd00::/127", "fd00::9/128"]) {
      expect(ok({ cidr }).gateway).toBe("none");
    }
  });

  it("accepts blockPrefix as a number or as /n text, and host length means direct mode", () => {
    expect(ok({ cidr: "10.0.0.0/24", blockPrefix: "/32" }).blockPrefix).toBe(32);
    expect(isDirectMode(ok({ cidr: "10.0.0.0/24", blockPrefix: 32 }))).toBe(true);
    expect(isDirectMode(ok({ cidr: "fd00::/120", blockPrefix: 128 }))).toBe(true);
    expect(isDirectMode(ok({ cidr: "10.0.0.0/24" }))).toBe(false);
  });

  it("canonicalizes and sorts reserved entries", () => {
    const s = ok({
      cidr: "10.0.0.0/24",
      reserved: ["10.0.0.200-10.0.0.210", "10.0.0.7", "10.0.0.16/28", "10.0.0.7"],
    });
    expect(s.reserved).toEqual(["10.0.0.7/32", "10.0.0.16/28", "10.0.0.200-10.0.0.210"]);
    expect(ok({ cidr: "fd00::/64", reserved: ["FD00::10-fd00::0020"] }).reserved).toEqual([
      "fd00::10-fd00::20",
    ]);
  });

  it("accepts an explicit gateway or none", () => {
    expect(ok({ cidr: "10.0.0.0/24", gateway: "10.0.0.254" }).gateway).toBe("10.0.0.254");
    expect(ok({ cidr: "10.0.0.0/24", gateway: "none" }).gateway).toBe("none");
  });
});

describe("subnet field errors", () => {
  it("names invalid and non-canonical CIDRs", () => {
    expect(problems({ cidr: "10.0.0.0/33" })).toEqual([
      { path: "s.cidr", message: expect.stringContaining("10.0.0.0/33 is not a valid CIDR") },
    ]);
    expect(problems({ cidr: "10.0.0.1/24" })[0]?.message).toContain("did you mean 10.0.0.0/24");
    expect(problems({ cidr: "banana" })[0]?.path).toBe("s.cidr");
  });

  it("rejects a gateway outside its subnet, of the other family, or on a reserved address", () => {
    const cases: Array<[string, string, string]> = [
      ["10.0.0.0/24", "10.0.1.1", "outside subnet"],
      ["10.0.0.0/24", "fd00::1", "mixed families"],
      ["10.0.0.0/24", "10.0.0.0", "network address"],
      ["10.0.0.0/24", "10.0.0.255", "broadcast address"],
      ["fd00::/64", "fd00::", "subnet-router anycast"],
      ["10.0.0.0/24", "10.0.0.300", "not a valid IP address"],
    ];
    for (const [cidr, gateway, text] of cases) {
      const issues = problems({ cidr, gateway });
      expect(issues).toEqual([{ path: "s.gateway", message: expect.stringContaining(text) }]);
    }
  });

  it("rejects reserved entries outside the subnet, of another family, reversed or malformed", () => {
    const issues = problems({
      cidr: "10.0.0.0/24",
      reserved: ["10.0.1.0/28", "fd00::1", "10.0.0.9-10.0.0.3", "x-y", "10.0.0.5-fd00::1"],
    });
    expect(issues.map((i) => i.path)).toEqual([
      "s.reserved[0]",
      "s.reserved[1]",
      "s.reserved[2]",
      "s.reserved[3]",
      "s.reserved[4]",
    ]);
    expect(issues[1]?.message).toContain("mixed families");
    expect(issues[2]?.message).toContain("ends before it starts");
  });

  it("rejects a block prefix shorter than the subnet or beyond the family", () => {
    expect(problems({ cidr: "10.0.0.0/24", blockPrefix: 20 })).toEqual([
      { path: "s.blockPrefix", message: expect.stringContaining("shorter than the subnet") },
    ]);
    expect(problems({ cidr: "10.0.0.0/24", blockPrefix: 120 })[0]?.message).toContain(
      "mixed families",
    );
  });

  it("reports every bad field of one subnet at once", () => {
    const issues = problems({
      cidr: "10.0.0.0/24",
      gateway: "fd00::1",
      reserved: ["10.9.0.0/24"],
      blockPrefix: 16,
    });
    expect(issues.map((i) => i.path)).toEqual(["s.gateway", "s.reserved[0]", "s.blockPrefix"]);
  });
});
