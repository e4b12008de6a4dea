// The two servers' handlers of the grpc-server benchmarks.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { type AllocateResponseSchema, Family, type IpamHandlers } from "../src/index.js";

/** One IPv4 answer of the shape both servers send: only the address differs. */
function benchResponse(address: string): MessageInitShape<typeof AllocateResponseSchema> {
  return {
    addresses: [
      {
        address,
        prefixLength: 8,
        gateway: "10.0.0.1",
        family: Family.IPV4,
        subnetId: "bench",
        blockCidr: "10.0.0.0/26",
        purpose: "default",
      },
    ],
  };
}

/** An in-memory allocator: idempotent per key, addresses from a counter over 10.0.0.0/8. */
export function memoryAllocator(): Partial<IpamHandlers> {
  const byKey = new Map<string, MessageInitShape<typeof AllocateResponseSchema>>();
  let next = 1;
  return {
    allocate: (request) => {
      const key = `${request.network}\u0000${request.containerId}\u0000${request.ifname}`;
      const existing = byKey.get(key);
      if (existing !== undefined) return existing;
      const n = next++;
      const response = benchResponse(`10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`);
      byKey.set(key, response);
      return response;
    },
  };
}

/** The do-nothing baseline: same method, same response size, no work. */
export function echo(): Partial<IpamHandlers> {
  const fixed = benchResponse("10.0.0.2");
  return { allocate: () => fixed };
}
