import {
  create,
  type DescField,
  type DescMessage,
  equals,
  fromBinary,
  ScalarType,
  toBinary,
} from "@bufbuild/protobuf";
import {
  CLUSTER_SERVER_METHODS,
  Cluster,
  IPAM_SERVER_METHODS,
  Ipam,
} from "@ipam/grpc-client/messages";
import { describe, expect, it } from "vitest";
import { encodeFlat, FlatWriter } from "./flat-writer.js";

/** A small seeded PRNG (mulberry32): the same messages on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = ["a", "fd99::1", "é", "日本", "😀", "\ud800", "-", "0123456789abcdef"];

/** Around the one-byte length prefix: 127 and 128 bytes, 42 and 43 three-byte characters. */
const EDGES = [
  "日".repeat(42),
  "日".repeat(43),
  "日".repeat(60),
  "é".repeat(64),
  "a".repeat(127),
  "a".repeat(128),
  "😀".repeat(21),
  "\ud800".repeat(43),
];

function randomString(next: () => number): string {
  if (next() < 0.1) return EDGES[Math.floor(next() * EDGES.length)] as string;
  const n = Math.floor(next() * 3) === 0 ? Math.floor(next() * 80) : Math.floor(next() * 8);
  let s = "";
  for (let i = 0; i < n; i++) s += PIECES[Math.floor(next() * PIECES.length)];
  return s;
}

function randomScalar(field: DescField, type: ScalarType, next: () => number): unknown {
  switch (type) {
    case ScalarType.STRING:
      return randomString(next);
    case ScalarType.BOOL:
      return next() < 0.5;
    case ScalarType.UINT32:
      return [0, 1, 127, 128, 16_383, 16_384, 0xffffffff][Math.floor(next() * 7)];
    case ScalarType.INT32:
      return [0, 1, -1, 300, -0x80000000, 0x7fffffff][Math.floor(next() * 6)];
    case ScalarType.INT64:
      return [0n, 1n, -1n, 2n ** 40n, -(2n ** 63n)][Math.floor(next() * 5)];
    case ScalarType.UINT64:
      return [0n, 1n, 2n ** 35n, 2n ** 64n - 1n][Math.floor(next() * 4)];
    case ScalarType.BYTES:
      return Uint8Array.from({ length: Math.floor(next() * 200) }, () => Math.floor(next() * 256));
    default:
      throw new Error(`${field.name}: scalar ${type} not covered by this test`);
  }
}

/** A message of `schema` with every field set at random (nested ones up to `depth`). */
function randomMessage(schema: DescMessage, next: () => number, depth = 0): unknown {
  const init: Record<string, unknown> = {};
  for (const oneof of schema.oneofs) {
    const member = oneof.fields[Math.floor(next() * (oneof.fields.length + 1))];
    if (member === undefined) continue; // no case set
    const value =
      member.fieldKind === "message"
        ? randomMessage(member.message, next, depth + 1)
        : member.fieldKind === "scalar"
          ? randomScalar(member, member.scalar, next)
          : undefined;
    init[oneof.localName] = { case: member.localName, value };
  }
  for (const field of schema.fields) {
    if (field.oneof !== undefined) continue; // set above
    if (next() < 0.2) continue; // left at its default
    switch (field.fieldKind) {
      case "scalar":
        init[field.localName] = randomScalar(field, field.scalar, next);
        break;
      case "enum": {
        const values = field.enum.values;
        init[field.localName] = values[Math.floor(next() * values.length)]?.number ?? 0;
        break;
      }
      case "message":
        if (depth < 3) init[field.localName] = randomMessage(field.message, next, depth + 1);
        break;
      case "list": {
        const n = Math.floor(next() * (depth < 2 ? 40 : 3));
        const items: unknown[] = [];
        for (let i = 0; i < n; i++) {
          if (field.listKind === "message")
            items.push(randomMessage(field.message, next, depth + 1));
          else if (field.listKind === "scalar") items.push(randomScalar(field, field.scalar, next));
        }
        init[field.localName] = items;
        break;
      }
      default:
        break;
    }
  }
  return create(schema, init as never);
}

const ipamMethods = Ipam.methods.map((m) => {
  const codec = IPAM_SERVER_METHODS[m.localName as keyof typeof IPAM_SERVER_METHODS];
  return [m, codec] as const;
});
const clusterCodecs: Readonly<
  Record<string, { decode: (b: Uint8Array) => unknown; encode: unknown }>
> = CLUSTER_SERVER_METHODS;
const clusterMethods = Cluster.methods.flatMap((m) => {
  const codec = clusterCodecs[m.localName];
  return codec === undefined ? [] : [[m, codec] as const];
});
const methods = [...ipamMethods, ...clusterMethods];

describe("FlatWriter with the generated ipam.v1 codecs", () => {
  it("covers every Ipam method and the Cluster methods of the write path", () => {
    expect(ipamMethods.every(([, codec]) => codec !== undefined)).toBe(true);
    const served = clusterMethods.map(([m]) => m.name);
    for (const name of ["AllocateDirect", "ReleaseDirect", "LeaseBlock", "GetStatus"]) {
      expect(served).toContain(name);
    }
  });

  it("encodes every served response to the same bytes as protobuf-es toBinary", () => {
    const next = prng(22);
    for (const [method, codec] of methods) {
      for (let i = 0; i < 60; i++) {
        const message = randomMessage(method.output, next);
        const expected = toBinary(method.output, message as never);
        const actual = encodeFlat(codec.encode as never, message);
        expect(Buffer.from(actual).equals(Buffer.from(expected)), method.name).toBe(true);
      }
    }
  });

  it("encodes a response given as an init shape (no $typeName, fields left out)", () => {
    const allocate = IPAM_SERVER_METHODS.allocate;
    const shape = { addresses: [{ address: "fd99::2", prefixLength: 64, family: 2 }] };
    const bytes = encodeFlat(allocate.encode as never, shape);
    const [method] = ipamMethods;
    expect(method?.[0].name).toBe("Allocate");
    const output = method?.[0].output as DescMessage;
    expect(Buffer.from(bytes).equals(Buffer.from(toBinary(output, create(output, shape))))).toBe(
      true,
    );
  });

  it("decodes every served request as protobuf-es fromBinary does", () => {
    const next = prng(23);
    for (const [method, codec] of methods) {
      for (let i = 0; i < 60; i++) {
        const bytes = toBinary(method.input, randomMessage(method.input, next) as never);
        const decoded = codec.decode(bytes);
        expect(equals(method.input, decoded as never, fromBinary(method.input, bytes))).toBe(true);
      }
    }
  });

  it("refuses values the field cannot hold, as BinaryWriter does", () => {
    const w = new FlatWriter(8);
    expect(() => w.uint32(-1)).toThrow("invalid uint32: -1");
    expect(() => w.uint32(1.5)).toThrow("invalid uint32");
    expect(() => w.int32(2 ** 31)).toThrow("invalid int32");
    expect(() => w.string(5 as unknown as string)).toThrow("invalid string: number");
    expect(() => w.join()).toThrow("fork stack empty");
  });

  it("grows its buffer for a message larger than it", () => {
    const w = new FlatWriter(8);
    const long = "x".repeat(100_000);
    w.tag(1, 2).fork().tag(1, 2).string(long).join();
    const bytes = w.take();
    expect(bytes.length).toBe(1 + 3 + 1 + 3 + 100_000);
    expect(bytes.subarray(bytes.length - 5).toString()).toBe("xxxxx");
  });
});
