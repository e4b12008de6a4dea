import { type DescMethod, type DescService, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";

/** The HTTP/2 path of a method: `/ipam.v1.Ipam/Allocate`. */
export function methodPath(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

/** The short method name used in metrics and logs: `ipam.v1.Ipam/Allocate`. */
export function methodLabel(method: DescMethod): string {
  return `${method.parent.typeName}/${method.name}`;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * A @grpc/grpc-js service definition for a protobuf-es service descriptor, keyed by each
 * method's `localName` (`allocate`). Serializers expect complete messages (use `create`).
 */
export function grpcServiceDefinition(service: DescService): ServiceDefinition {
  const definition: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) {
    const input = method.input;
    const output = method.output;
    definition[method.localName] = {
      path: methodPath(method),
      originalName: method.name,
      requestStream:
        method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
      responseStream:
        method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
      requestSerialize: (value) => asBuffer(toBinary(input, value as never)),
      requestDeserialize: (bytes) => fromBinary(input, bytes),
      responseSerialize: (value) => asBuffer(toBinary(output, value as never)),
      responseDeserialize: (bytes) => fromBinary(output, bytes),
    };
  }
  return definition;
}
