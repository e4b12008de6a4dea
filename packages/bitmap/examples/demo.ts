// A short tour of @ipam/bitmap: run with `pnpm exec tsx packages/bitmap/examples/demo.ts`.
// (Imports the sources so it runs without a build; applications import "@ipam/bitmap".)
import {
  allocateDualStack,
  BitmapError,
  Cidr,
  formatIp,
  IpBlock,
  parseIp,
  releaseDualStack,
} from "../src/index.js";

function section(title: string): void {
  console.log(`\n== ${title}`);
}

section("Parse subnets (canonical form only)");
const subnet = Cidr.parse("10.20.0.0/16");
console.log(
  `${subnet}: ${subnet.size()} addresses, ${formatIp(subnet.first)} - ${formatIp(subnet.last)}`,
);
const subnet6 = Cidr.parse("2001:DB8:0:0:0:0:0:0/48");
console.log(`2001:DB8:0:0:0:0:0:0/48 is written ${subnet6} (RFC 5952)`);
try {
  Cidr.parse("10.20.0.1/16");
} catch (error) {
  if (error instanceof BitmapError) console.log(`${error.code}: ${error.message}`);
}

section("Carve node blocks (/26 for IPv4, /120 for IPv6)");
console.log(`${subnet} holds ${subnet.subBlockCount(26)} blocks of /26`);
const blockCidr = subnet.subBlock(26, 0n);
const block6Cidr = subnet6.subBlock(120, 5n);
console.log(`block 0 of /26: ${blockCidr}; block 5 of /120: ${block6Cidr}`);
console.log(
  `index of ${subnet.subBlock(26, 77n)} is ${subnet.indexOfSubBlock(subnet.subBlock(26, 77n))}`,
);

section("Allocate and release IPv4 addresses (next-fit)");
// The subnet's network address and its gateway fall in block 0, so both are reserved.
const block = new IpBlock(blockCidr, { subnet, gateway: "first-usable" });
console.log(
  `${block.cidr}: ${block.capacity()} usable, reserved ${block
    .reservedRanges()
    .map((r) => `${formatIp(r.first)}-${formatIp(r.last)}`)
    .join(", ")}`,
);
const a = block.allocate();
const b = block.allocate();
const c = block.allocate();
console.log(`allocated ${[a, b, c].map(formatIp).join(", ")}`);
block.release(b);
console.log(
  `released ${formatIp(b)}; next allocation is ${formatIp(block.allocate())} (not reused at once)`,
);
console.log(`${block.allocatedCount()} allocated, ${block.free()} free`);
try {
  block.release(parseIp("10.20.0.40"));
} catch (error) {
  if (error instanceof BitmapError) console.log(`${error.code}: ${error.message}`);
}

section("IPv6 block");
const block6 = new IpBlock(block6Cidr, { subnet: subnet6 });
const v6 = [block6.allocate(), block6.allocate()];
console.log(`allocated ${v6.map(formatIp).join(", ")} from ${block6.cidr}`);

section("Dual-stack: one address of each family, all or nothing");
const pair = allocateDualStack(block, block6);
console.log(`pair: ${formatIp(pair.v4)} + ${formatIp(pair.v6)}`);
releaseDualStack(block, block6, pair);
const tiny6 = new IpBlock(Cidr.parse("2001:db8:ffff::/128"));
tiny6.allocate();
const before = block.allocatedCount();
try {
  allocateDualStack(block, tiny6);
} catch (error) {
  if (error instanceof BitmapError) console.log(`${error.code}: ${error.message}`);
}
console.log(`IPv4 allocations before/after the failed pair: ${before}/${block.allocatedCount()}`);

section("Persist and restore a block");
const bytes = block.serialize();
const restored = IpBlock.deserialize(bytes);
console.log(
  `${bytes.length} bytes; restored ${restored.cidr} with ${restored.allocated().map(formatIp).join(", ")}`,
);
