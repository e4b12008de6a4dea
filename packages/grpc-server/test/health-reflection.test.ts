import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { type Client, credentials, loadPackageDefinition } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { protoPath as healthProtoPath } from "grpc-health-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createClusterService,
  createIpamService,
  type GrpcServer,
  startGrpcServer,
} from "../src/index.js";
import { createInMemoryIpam } from "../src/testing/in-memory-ipam.js";
import { tempFolder } from "./support/temp.js";

const require = createRequire(import.meta.url);
const reflectionProto = join(
  dirname(require.resolve("@grpc/reflection/package.json")),
  "build/proto/grpc/reflection/v1/reflection.proto",
);

type Unary = (
  request: object,
  callback: (error: Error | null, response: Record<string, unknown>) => void,
) => void;

// Clients built from the published .proto files, as a third-party tool would do.
function loadClient(path: string, service: string, address: string): Client {
  const definition = loadPackageDefinition(
    loadSync(path, { keepCase: true, defaults: true, enums: String }),
  );
  let node: unknown = definition;
  for (const part of service.split(".")) node = (node as Record<string, unknown>)[part];
  const Ctor = node as new (
    address: string,
    creds: ReturnType<typeof credentials.createInsecure>,
  ) => Client;
  return new Ctor(address, credentials.createInsecure());
}

describe("every server", () => {
  const dir = tempFolder();
  let server: GrpcServer;
  let address: string;
  beforeAll(async () => {
    server = await startGrpcServer({
      unixSocket: { path: join(dir.path, "ipamd.sock") },
      services: [createIpamService(createInMemoryIpam().handlers), createClusterService({})],
    });
    address = `unix:${join(dir.path, "ipamd.sock")}`;
  });
  afterAll(async () => {
    await server.shutdown(100);
    dir.cleanup();
  });

  it("serves grpc.health.v1 per service, and setServingStatus changes the answer", async () => {
    const health = loadClient(healthProtoPath, "grpc.health.v1.Health", address);
    const check = (service: string): Promise<unknown> =>
      new Promise((resolve, reject) => {
        (health as unknown as { Check: Unary }).Check({ service }, (error, response) =>
          error === null ? resolve(response.status) : reject(error),
        );
      });
    expect(await check("")).toBe("SERVING");
    expect(await check("ipam.v1.Ipam")).toBe("SERVING");
    expect(await check("ipam.v1.Cluster")).toBe("SERVING");
    server.setServingStatus("ipam.v1.Ipam", "NOT_SERVING");
    expect(await check("ipam.v1.Ipam")).toBe("NOT_SERVING");
    await expect(check("no.such.Service")).rejects.toMatchObject({ code: 5 });
    health.close();
  });

  it("serves reflection: lists the services and returns their file descriptors", async () => {
    const reflection = loadClient(reflectionProto, "grpc.reflection.v1.ServerReflection", address);
    const ask = (request: object): Promise<Record<string, unknown>> =>
      new Promise((resolve, reject) => {
        const call = (
          reflection as unknown as {
            ServerReflectionInfo(): NodeJS.ReadWriteStream & {
              write(x: object): void;
              end(): void;
            };
          }
        ).ServerReflectionInfo();
        call.on("data", (response: Record<string, unknown>) => resolve(response));
        call.on("error", reject);
        call.write(request);
        call.end();
      });
    const listed = await ask({ list_services: "" });
    const names = (
      (listed.list_services_response as { service: Array<{ name: string }> }).service ?? []
    ).map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(["ipam.v1.Ipam", "ipam.v1.Cluster"]));

    const files = await ask({ file_containing_symbol: "ipam.v1.Ipam" });
    const protos = (files.file_descriptor_response as { file_descriptor_proto: Buffer[] })
      .file_descriptor_proto;
    const decoded = protos.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes));
    // @grpc/reflection rebuilds files from protobufjs, which merges files of one package; what
    // matters to a tool like grpcurl is that the service and its messages are all described.
    const ipamService = decoded.flatMap((file) => file.service).find((s) => s.name === "Ipam");
    expect(ipamService?.method.map((m) => m.name)).toEqual([
      "Allocate",
      "Release",
      "Check",
      "GarbageCollect",
      "Status",
      "ListAllocations",
      "GetNodeBlocks",
      "GetPoolStats",
      "GetRuntimeView",
    ]);
    const messages = decoded.flatMap((file) => file.messageType.map((m) => m.name));
    expect(messages).toEqual(expect.arrayContaining(["AllocateRequest", "AllocateResponse"]));
    reflection.close();
  });
});
