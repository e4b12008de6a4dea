// Public API of @ipam/bitmap: every export is named explicitly (no `export *`).

export { Bitmap, MAX_BITMAP_CAPACITY } from "./bitmap.js";
export type { BitmapErrorCode, BitmapErrorOptions } from "./bitmap-error.js";
export { BitmapError, isBitmapError } from "./bitmap-error.js";
export { Cidr } from "./cidr.js";
export type { DualStackAddress } from "./dual-stack.js";
export { allocateDualStack, releaseDualStack } from "./dual-stack.js";
export type { Ip, IpFamily } from "./ip.js";
export {
  compareIp,
  formatIp,
  ipEquals,
  ipFromBigInt,
  ipToBigInt,
  ipv4,
  ipv6,
  parseIp,
  tryParseIp,
} from "./ip.js";
export type { AddressState, IpBlockOptions, IpRange } from "./ip-block.js";
export { IpBlock } from "./ip-block.js";
export { formatIPv4, parseIPv4, tryParseIPv4 } from "./ipv4.js";
export { formatIPv6, IPV6_MAX, parseIPv6, tryParseIPv6 } from "./ipv6.js";
