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

function decodeField(field: DescField): string {
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

function messageCode(message: DescMessage): string {
  if (message.oneofs.length > 0) {
    throw new Error(`${message.typeName}: oneofs are not supported by the lean codec generator`);
  }
  const n = message.name;
  const init = message.fields
    .map((f) => [f.localName, initialValue(f)] as const)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `    ${k}: ${v},`)
    .join("\n");
  return `/** Append the encoding of ${message.typeName} to \`w\` (proto3 defaults are omitted). */
export function encode${n}(m: MessageInitShape<typeof pb.${n}Schema>, w: BinaryWriter = new BinaryWriter()): BinaryWriter {
${message.fields.map(encodeField).join("\n")}
  return w;
}

/** Decode ${message.typeName} from \`input\` (the next \`length\` bytes when given; unknown fields are skipped). */
export function decode${n}(input: Uint8Array | BinaryReader, length?: number): pb.${n} {
  const r = input instanceof BinaryReader ? input : new BinaryReader(input);
  const end = length === undefined ? r.len : r.pos + length;
  const m = {
    $typeName: "${message.typeName}",
${init}
  } as pb.${n};
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
