// Generates src/gen/lean/ipam_codec.ts: encode/decode functions for every message of
// ipam/v1/ipam.proto and a method table for the Ipam service, written against the small wire
// runtime of @bufbuild/protobuf (`BinaryWriter`/`BinaryReader`) instead of its reflection
// runtime, so the lean client starts without building descriptors.
//
// Usage: tsx scripts/gen-lean-codec.ts [IPAM_PB_TS] [OUT_TS]
// (defaults: src/gen/ipam/v1/ipam_pb.ts and src/gen/lean/ipam_codec.ts). Run by `pnpm gen`.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type DescField, type DescMessage, ScalarType } from "@bufbuild/protobuf";
import type { GenFile } from "@bufbuild/protobuf/codegenv2";

const root = join(import.meta.dirname, "..");
const pbPath = resolve(process.argv[2] ?? join(root, "src/gen/ipam/v1/ipam_pb.ts"));
const outPath = resolve(process.argv[3] ?? join(root, "src/gen/lean/ipam_codec.ts"));
const clusterPbPath = resolve(process.argv[4] ?? join(root, "src/gen/ipam/v1/cluster_pb.ts"));
const clusterOutPath = resolve(process.argv[5] ?? join(root, "src/gen/lean/cluster_codec.ts"));

const pb = (await import(pathToFileURL(pbPath).href)) as { file_ipam_v1_ipam: GenFile };
const file = pb.file_ipam_v1_ipam;

interface Scalar {
  readonly wire: "Varint" | "LengthDelimited";
  readonly write: string;
  readonly read: string;
  readonly zero: string;
  readonly cast?: string;
}

const SCALARS: Partial<Record<ScalarType, Scalar>> = {
  [ScalarType.STRING]: { wire: "LengthDelimited", write: "string", read: "string", zero: '""' },
  [ScalarType.BOOL]: { wire: "Varint", write: "bool", read: "bool", zero: "false" },
  [ScalarType.UINT32]: { wire: "Varint", write: "uint32", read: "uint32", zero: "0" },
  [ScalarType.INT32]: { wire: "Varint", write: "int32", read: "int32", zero: "0" },
  [ScalarType.UINT64]: {
    wire: "Varint",
    write: "uint64",
    read: "uint64",
    zero: "0n",
    cast: "BigInt",
  },
  [ScalarType.INT64]: { wire: "Varint", write: "int64", read: "int64", zero: "0n", cast: "BigInt" },
  [ScalarType.BYTES]: {
    wire: "LengthDelimited",
    write: "bytes",
    read: "bytes",
    zero: "new Uint8Array(0)",
  },
};

function scalarOf(field: DescField, type: ScalarType): Scalar {
  const scalar = SCALARS[type];
  if (scalar === undefined) {
    throw new Error(
      `${field.parent.typeName}.${field.name}: scalar type ${type} is not supported by the lean codec generator`,
    );
  }
  return scalar;
}

function encodeField(field: DescField): string {
  const oneof = field.oneof;
  if (oneof !== undefined) {
    // A oneof member is written when it is the case set, whatever its value (it has presence).
    const value = `m.${oneof.localName}.value`;
    const no = field.number;
    const cond = `m.${oneof.localName}?.case === "${field.localName}"`;
    if (field.fieldKind === "message") {
      return `  if (${cond}) {\n    w.tag(${no}, WireType.LengthDelimited).fork();\n    encode${field.message.name}(${value}, w);\n    w.join();\n  }`;
    }
    if (field.fieldKind === "scalar") {
      const sc = scalarOf(field, field.scalar);
      return `  if (${cond}) w.tag(${no}, WireType.${sc.wire}).${sc.write}(${value});`;
    }
    throw new Error(
      `${field.parent.typeName}.${field.name}: oneof ${field.fieldKind} members are not supported`,
    );
  }
  const name = `m.${field.localName}`;
  const no = field.number;
  switch (field.fieldKind) {
    case "scalar": {
      const s = scalarOf(field, field.scalar);
      const isZero = s.zero === "0n" ? `BigInt(${name}) !== 0n` : `${name} !== ${s.zero}`;
      const cond = field.scalar === ScalarType.BYTES ? `${name}.byteLength > 0` : isZero;
      return `  if (${name} !== undefined && ${cond}) w.tag(${no}, WireType.${s.wire}).${s.write}(${name});`;
    }
    case "enum":
      return `  if (${name} !== undefined && ${name} !== 0) w.tag(${no}, WireType.Varint).int32(${name});`;
    case "message":
      return `  if (${name} !== undefined) {\n    w.tag(${no}, WireType.LengthDelimited).fork();\n    encode${field.message.name}(${name}, w);\n    w.join();\n  }`;
    case "list": {
      if (field.listKind === "message") {
        return `  for (const v of ${name} ?? []) {\n    w.tag(${no}, WireType.LengthDelimited).fork();\n    encode${field.message.name}(v, w);\n    w.join();\n  }`;
      }
      if (field.listKind === "scalar" && field.scalar === ScalarType.STRING) {
        return `  for (const v of ${name} ?? []) w.tag(${no}, WireType.LengthDelimited).string(v);`;
      }
      throw new Error(
        `${field.parent.typeName}.${field.name}: repeated ${field.listKind} is not supported by the lean codec generator`,
      );
    }
    default:
      throw new Error(
        `${field.parent.typeName}.${field.name}: ${field.fieldKind} fields are not supported by the lean codec generator`,
      );
  }
}

function scalarRead(s: Scalar): string {
  return s.cast === undefined ? `r.${s.read}()` : `${s.cast}(r.${s.read}())`;
}

function decodeField(field: DescField): string {
  const oneof = field.oneof;
  if (oneof !== undefined) {
    const value =
      field.fieldKind === "message"
        ? `decode${field.message.name}(r, r.uint32())`
        : field.fieldKind === "scalar"
          ? scalarRead(scalarOf(field, field.scalar))
          : undefined;
    if (value === undefined) throw new Error(`${field.parent.typeName}.${field.name}: unsupported`);
    return `      case ${field.number}:\n        m.${oneof.localName} = { case: "${field.localName}", value: ${value} };\n        break;`;
  }
  const name = `m.${field.localName}`;
  const no = field.number;
  switch (field.fieldKind) {
    case "scalar": {
      const s = scalarOf(field, field.scalar);
      const value = s.cast === undefined ? `r.${s.read}()` : `${s.cast}(r.${s.read}())`;
      return `      case ${no}:\n        ${name} = ${value};\n        break;`;
    }
    case "enum":
      return `      case ${no}:\n        ${name} = r.int32();\n        break;`;
    case "message":
      return `      case ${no}:\n        ${name} = decode${field.message.name}(r, r.uint32());\n        break;`;
    case "list":
      if (field.listKind === "message") {
        return `      case ${no}:\n        ${name}.push(decode${field.message.name}(r, r.uint32()));\n        break;`;
      }
      return `      case ${no}:\n        ${name}.push(r.string());\n        break;`;
    default:
      throw new Error(`${field.parent.typeName}.${field.name}: unsupported`);
  }
}

function initialValue(field: DescField): string | undefined {
  switch (field.fieldKind) {
    case "scalar":
      return scalarOf(field, field.scalar).zero;
    case "enum":
      return "0";
    case "list":
      return "[]";
    default:
      return undefined; // message fields are absent until set
  }
}

/**
 * Whether the generator can write `message` and every message it contains: scalars it knows
 * (no proto3 `optional`), enums, messages, repeated messages and strings, oneofs of messages and
 * scalars; no maps.
 */
function isSupported(message: DescMessage, seen = new Set<string>()): boolean {
  if (seen.has(message.typeName)) return true;
  seen.add(message.typeName);
  return message.fields.every((field) => {
    if (field.proto.proto3Optional === true) return false;
    switch (field.fieldKind) {
      case "scalar":
        return SCALARS[field.scalar] !== undefined;
      case "enum":
        return field.oneof === undefined;
      case "message":
        return isSupported(field.message, seen);
      case "list":
        if (field.listKind === "message") return isSupported(field.message, seen);
        return field.listKind === "scalar" && field.scalar === ScalarType.STRING;
      default:
        return false;
    }
  });
}

/** `message` and every message it contains, each once, in the order first met. */
function reachable(message: DescMessage, out: Map<string, DescMessage>): void {
  if (out.has(message.typeName)) return;
  out.set(message.typeName, message);
  for (const field of message.fields) {
    if (field.fieldKind === "message") reachable(field.message, out);
    else if (field.fieldKind === "list" && field.listKind === "message")
      reachable(field.message, out);
  }
}

/** The type namespace a message's generated types are imported under (`pb` for the file's own). */
let typeNamespace: (message: DescMessage) => string = () => "pb";

function messageCode(message: DescMessage): string {
  const n = message.name;
  const ns = typeNamespace(message);
  const fields = [...message.fields].sort((a, b) => a.number - b.number);
  const init = [
    ...message.fields
      .filter((f) => f.oneof === undefined)
      .map((f) => [f.localName, initialValue(f)] as const)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `    ${k}: ${v},`),
    ...message.oneofs.map((o) => `    ${o.localName}: { case: undefined },`),
  ].join("\n");
  return `/** Append the encoding of ${message.typeName} to \`w\` (proto3 defaults are omitted). */
export function encode${n}(m: MessageInitShape<typeof ${ns}.${n}Schema>, w: BinaryWriter = new BinaryWriter()): BinaryWriter {
${fields.map(encodeField).join("\n")}
  return w;
}

/** Decode ${message.typeName} from \`input\` (the next \`length\` bytes when given; unknown fields are skipped). */
export function decode${n}(input: Uint8Array | BinaryReader, length?: number): ${ns}.${n} {
  const r = input instanceof BinaryReader ? input : new BinaryReader(input);
  const end = length === undefined ? r.len : r.pos + length;
  const m = {
    $typeName: "${message.typeName}",
${init}
  } as ${ns}.${n};
  while (r.pos < end) {
    const [no, wireType] = r.tag();
    switch (no) {
${message.fields.map(decodeField).join("\n")}
      default:
        r.skip(wireType, no);
    }
  }
  return m;
}
`;
}

const service = file.services.find((s) => s.name === "Ipam");
if (service === undefined) throw new Error("ipam.proto has no Ipam service");
const importPath = relative(dirname(outPath), pbPath).replace(/\.ts$/, ".js");
const out = `// @generated by scripts/gen-lean-codec.ts from ${file.proto.name}. DO NOT EDIT.
// Encoders and decoders for ipam.v1 written against @bufbuild/protobuf's wire runtime only.
// Results are structurally the messages of ipam_pb.ts (same fields, same $typeName).

import type { MessageInitShape } from "@bufbuild/protobuf";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import type * as pb from "${importPath.startsWith(".") ? importPath : `./${importPath}`}";

${file.messages.map(messageCode).join("\n")}
/** The unary methods of ipam.v1.Ipam with their paths and codecs, by local name. */
export const IPAM_METHODS = {
${service.methods
  .map(
    (m) =>
      `  ${m.localName}: {\n    path: "/${service.typeName}/${m.name}",\n    encode: encode${m.input.name},\n    decode: decode${m.output.name},\n  },`,
  )
  .join("\n")}
} as const;

/**
 * The same methods from the server's side: each request's decoder and each response's encoder,
 * by local name (what @ipam/grpc-server serves ipam.v1.Ipam with, instead of the reflection
 * runtime).
 */
export const IPAM_SERVER_METHODS = {
${service.methods
  .map(
    (m) =>
      `  ${m.localName}: {\n    decode: decode${m.input.name},\n    encode: encode${m.output.name},\n  },`,
  )
  .join("\n")}
} as const;
`;
mkdirSync(dirname(outPath), { recursive: true });
writeFileSync(outPath, out);

// The cluster API's server codecs: only for the methods whose request and response (and every
// message in them) the generator supports; the others keep protobuf-es's reflection runtime.
const clusterPb = (await import(pathToFileURL(clusterPbPath).href)) as {
  file_ipam_v1_cluster: GenFile;
};
const clusterFile = clusterPb.file_ipam_v1_cluster;
const cluster = clusterFile.services.find((s) => s.name === "Cluster");
if (cluster === undefined) throw new Error("cluster.proto has no Cluster service");
const servedMethods = cluster.methods.filter((m) => isSupported(m.input) && isSupported(m.output));
const clusterMessages = new Map<string, DescMessage>();
for (const m of servedMethods) {
  reachable(m.input, clusterMessages);
  reachable(m.output, clusterMessages);
}
typeNamespace = (message) => (message.file === clusterFile ? "cluster" : "ipam");
const importOf = (path: string) => {
  const rel = relative(dirname(clusterOutPath), path).replace(/\.ts$/, ".js");
  return rel.startsWith(".") ? rel : `./${rel}`;
};
const clusterOut = `// @generated by scripts/gen-lean-codec.ts from ${clusterFile.proto.name}. DO NOT EDIT.
// Request decoders and response encoders of the ipam.v1.Cluster methods whose messages the
// generator supports, on @bufbuild/protobuf's wire runtime only. Results are structurally the
// messages of cluster_pb.ts and ipam_pb.ts (same fields, same $typeName).

import type { MessageInitShape } from "@bufbuild/protobuf";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import type * as cluster from "${importOf(clusterPbPath)}";
import type * as ipam from "${importOf(pbPath)}";

${[...clusterMessages.values()].map(messageCode).join("\n")}
/**
 * Server codecs of ipam.v1.Cluster by method local name: each request's decoder and each
 * response's encoder (methods left out use the reflection runtime).
 */
export const CLUSTER_SERVER_METHODS = {
${servedMethods
  .map(
    (m) =>
      `  ${m.localName}: {\n    decode: decode${m.input.name},\n    encode: encode${m.output.name},\n  },`,
  )
  .join("\n")}
} as const;
`;
writeFileSync(clusterOutPath, clusterOut);
