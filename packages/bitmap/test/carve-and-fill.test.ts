import { describe, expect, it } from "vitest";
import {
  allocateDualStack,
  BitmapError,
  Cidr,
  formatIp,
  IpBlock,
  ipToBigInt,
  releaseDualStack,
} from "../src/index.js";

describe("a subnet carved into node blocks", () => {
  it("hands out every usable address of the subnet exactly once across its blocks", () => {
    const subnet = Cidr.parse("172.16.8.0/22");
    const blocks: IpBlock[] = [];
    for (let n = 0n; n < subnet.subBlockCount(25); n++) {
      blocks.push(new IpBlock(subnet.subBlock(25, n), { subnet, gateway: "first-usable" }));
    }
    const seen = new Set<bigint>();
    for (const block of blocks) {
      for (let offset = block.allocateOffset(); offset >= 0; offset = block.allocateOffset()) {
        seen.add(ipToBigInt(block.addressAt(offset)));
      }
    }
    // 1024 addresses minus network, broadcast and gateway of the subnet (not of each block).
    expect(seen.size).toBe(1021);
    expect(seen.has(subnet.start)).toBe(false);
    expect(seen.has(subnet.start + 1n)).toBe(false);
    expect(seen.has(subnet.end)).toBe(false);
    expect(seen.has(subnet.subBlock(25, 1n).start)).toBe(true);
  });

  it("survives a restart: blocks restored from bytes continue where they stopped", () => {
    const subnet = Cidr.parse("fd12:3456::/112");
    const block = new IpBlock(subnet.subBlock(120, 0n), { subnet });
    const first = block.allocate();
    block.allocate();
    block.release(first);
    const restored = IpBlock.deserialize(block.serialize());
    expect(formatIp(restored.allocate())).toBe(formatIp(block.allocate()));
    expect(restored.isAllocated(first)).toBe(false);
  });

  it("dual-stack pairs across blocks roll back cleanly when one family runs out", () => {
    const v4 = new IpBlock(Cidr.parse("192.0.2.0/30"));
    const v6 = new IpBlock(Cidr.parse("2001:db8::/127"));
    const pairs = [allocateDualStack(v4, v6), allocateDualStack(v4, v6)];
    expect(() => allocateDualStack(v4, v6)).toThrow(BitmapError);
    releaseDualStack(v4, v6, pairs[0]!);
    const again = allocateDualStack(v4, v6);
    expect(formatIp(again.v4)).toBe(formatIp(pairs[0]!.v4));
    expect(v4.free()).toBe(0);
  });
});
