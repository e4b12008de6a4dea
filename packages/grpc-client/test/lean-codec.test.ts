import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  AllocateRequestSchema,
  AllocateResponseSchema,
  Family,
  ListAllocationsResponseSchema,
} from "../src/gen/ipam/v1/ipam_pb.js";
import {
  decodeAllocateResponse,
  decodeListAllocationsResponse,
  encodeAllocateRequest,
  IPAM_METHODS,
} from "../src/gen/lean/ipam_codec.js";

// The lean codecs must be byte-for-byte and value-for-value what protobuf-es produces.
const text = fc.string({ maxLength: 12 });
const address = fc.record({
  address: text,
  prefixLength: fc.nat(128),
  gateway: text,
  family: fc.constantFrom(Family.UNSPECIFIED, Family.IPV4, Family.IPV6),
  subnetId: text,
  blockCidr: text,
  purpose: text,
});

describe("generated lean codecs (gen/lean/ipam_codec.ts)", () => {
  it("encode requests exactly as protobuf-es toBinary does", () => {
    fc.assert(
      fc.property(
        fc.record({
          network: text,
          containerId: text,
          ifname: text,
          purpose: text,
          families: fc.nat(3),
          podNamespace: text,
          podName: text,
          requestedAddresses: fc.array(text, { maxLength: 3 }),
        }),
        (init) => {
          const reference = toBinary(AllocateRequestSchema, create(AllocateRequestSchema, init));
          expect(encodeAllocateRequest(init).finish()).toEqual(reference);
        },
      ),
    );
  });

  it("decode responses to the same values as protobuf-es fromBinary", () => {
    fc.assert(
      fc.property(
        fc.record({
          addresses: fc.array(address, { maxLength: 3 }),
          routes: fc.array(fc.record({ destination: text, gateway: text }), { maxLength: 2 }),
          dns: fc.option(
            fc.record({
              nameservers: fc.array(text, { maxLength: 2 }),
              domain: text,
              search: fc.array(text, { maxLength: 2 }),
              options: fc.array(text, { maxLength: 2 }),
            }),
            { nil: undefined },
          ),
        }),
        (init) => {
          const bytes = toBinary(AllocateResponseSchema, create(AllocateResponseSchema, init));
          expect(decodeAllocateResponse(bytes)).toEqual(fromBinary(AllocateResponseSchema, bytes));
        },
      ),
    );
  });

  it("round-trips 64-bit fields and skips unknown fields", () => {
    const bytes = toBinary(
      ListAllocationsResponseSchema,
      create(ListAllocationsResponseSchema, {
        allocations: [{ createdAtUnixMs: 1_790_000_000_123n, key: { network: "n" } }],
        nextPageToken: "t",
      }),
    );
    const withUnknown = new Uint8Array([...bytes, 0xf8, 0x01, 0x05]); // field 31, varint 5
    const decoded = decodeListAllocationsResponse(withUnknown);
    expect(decoded.allocations[0]?.createdAtUnixMs).toBe(1_790_000_000_123n);
    expect(decoded.nextPageToken).toBe("t");
  });

  it("list every Ipam method with its path", () => {
    expect(Object.values(IPAM_METHODS).map((m) => m.path)).toEqual([
      "/ipam.v1.Ipam/Allocate",
      "/ipam.v1.Ipam/Release",
      "/ipam.v1.Ipam/Check",
      "/ipam.v1.Ipam/GarbageCollect",
      "/ipam.v1.Ipam/Status",
      "/ipam.v1.Ipam/ListAllocations",
      "/ipam.v1.Ipam/GetNodeBlocks",
      "/ipam.v1.Ipam/GetPoolStats",
      "/ipam.v1.Ipam/GetRuntimeView",
    ]);
  });
});
