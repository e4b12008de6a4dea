import { describe, expect, it } from "vitest";
import { BitmapError } from "./bitmap-error.js";
import { Cidr } from "./cidr.js";
import { allocateDualStack, releaseDualStack } from "./dual-stack.js";
import { formatIp, parseIp } from "./ip.js";
import { IpBlock } from "./ip-block.js";

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof BitmapError) return error.code;
    throw error;
  }
  return undefined;
}

describe("dual-stack", () => {
  it("allocates and releases one address of each family", () => {
    const v4 = new IpBlock(Cidr.parse("10.0.0.0/29"));
    const v6 = new IpBlock(Cidr.parse("fd00::/125"));
    const pair = allocateDualStack(v4, v6);
    expect(formatIp(pair.v4)).toBe("10.0.0.1");
    expect(formatIp(pair.v6)).toBe("fd00::1");
    releaseDualStack(v4, v6, pair);
    expect(v4.allocatedCount() + v6.allocatedCount()).toBe(0);
  });

  it("rolls back the IPv4 address, cursor included, when IPv6 is exhausted", () => {
    const v4 = new IpBlock(Cidr.parse("10.0.0.0/29"));
    const v6 = new IpBlock(Cidr.parse("fd00::/127"));
    allocateDualStack(v4, v6);
    allocateDualStack(v4, v6);
    const before = v4.serialize();
    let error: unknown;
    try {
      allocateDualStack(v4, v6);
    } catch (e) {
      error = e;
    }
    expect((error as BitmapError).code).toBe("EXHAUSTED");
    expect((error as BitmapError).message).toContain("fd00::/127");
    expect(v4.serialize()).toEqual(before);
    expect(v4.allocatedCount()).toBe(2);
  });

  it("fails on an exhausted IPv4 block without touching IPv6", () => {
    const v4 = new IpBlock(Cidr.parse("10.0.0.0/32"));
    const v6 = new IpBlock(Cidr.parse("fd00::/120"));
    allocateDualStack(v4, v6);
    expect(codeOf(() => allocateDualStack(v4, v6))).toBe("EXHAUSTED");
    expect(v6.allocatedCount()).toBe(1);
  });

  it("release is all or nothing", () => {
    const v4 = new IpBlock(Cidr.parse("10.0.0.0/29"));
    const v6 = new IpBlock(Cidr.parse("fd00::/120"));
    const pair = allocateDualStack(v4, v6);
    const bogus = { v4: pair.v4, v6: parseIp("fd00::77") };
    expect(codeOf(() => releaseDualStack(v4, v6, bogus))).toBe("NOT_ALLOCATED");
    expect(v4.isAllocated(pair.v4)).toBe(true);
    expect(codeOf(() => allocateDualStack(v6, v4))).toBe("INVALID_ARGUMENT");
  });
});
