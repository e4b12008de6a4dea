import { BitmapError } from "./bitmap-error.js";
import type { Ip } from "./ip.js";
import type { IpBlock } from "./ip-block.js";

/** One IPv4 and one IPv6 address handed out together. */
export interface DualStackAddress {
  readonly v4: Ip;
  readonly v6: Ip;
}

/**
 * Allocates one address from `v4Block` and one from `v6Block`, all or
 * nothing: when the IPv6 allocation fails, the IPv4 address is released and
 * the IPv4 block's cursor restored, so both blocks are exactly as before.
 * @throws BitmapError `INVALID_ARGUMENT` when the blocks are not IPv4 and
 * IPv6 respectively; `EXHAUSTED` (naming the block) when either has no free
 * address.
 */
export function allocateDualStack(v4Block: IpBlock, v6Block: IpBlock): DualStackAddress {
  checkFamilies(v4Block, v6Block);
  const cursor = v4Block.cursor;
  const v4 = v4Block.allocateOffset();
  if (v4 < 0) throw v4Block.exhausted();
  let v6: number;
  try {
    v6 = v6Block.allocateOffset();
  } catch (error) {
    undo(v4Block, v4, cursor);
    throw error;
  }
  if (v6 < 0) {
    undo(v4Block, v4, cursor);
    throw v6Block.exhausted();
  }
  return { v4: v4Block.addressAt(v4), v6: v6Block.addressAt(v6) };
}

/**
 * Releases both addresses of a pair, all or nothing: both are checked first,
 * and when either is not allocated in its block nothing is released.
 * @throws BitmapError `ADDRESS_OUT_OF_RANGE` or `NOT_ALLOCATED` from the
 * offending block.
 */
export function releaseDualStack(
  v4Block: IpBlock,
  v6Block: IpBlock,
  address: DualStackAddress,
): void {
  checkFamilies(v4Block, v6Block);
  const v4 = v4Block.offsetOf(address.v4);
  const v6 = v6Block.offsetOf(address.v6);
  // Validate both before touching either; releaseOffset throws NOT_ALLOCATED.
  if (!v4Block.isAllocatedOffset(v4)) v4Block.releaseOffset(v4);
  if (!v6Block.isAllocatedOffset(v6)) v6Block.releaseOffset(v6);
  v4Block.releaseOffset(v4);
  v6Block.releaseOffset(v6);
}

function undo(block: IpBlock, offset: number, cursor: number): void {
  block.releaseOffset(offset);
  block.cursor = cursor;
}

function checkFamilies(v4Block: IpBlock, v6Block: IpBlock): void {
  if (v4Block.family !== 4 || v6Block.family !== 6) {
    throw new BitmapError(
      "INVALID_ARGUMENT",
      `dual-stack needs an IPv4 and an IPv6 block, got ${v4Block.cidr} and ${v6Block.cidr}`,
      { details: { v4Block: v4Block.cidr.toString(), v6Block: v6Block.cidr.toString() } },
    );
  }
}
