// The independent ceiling of the node API benchmark: a bare @grpc/grpc-js server on a unix
// socket, none of the project's server layer (no @ipam/grpc-server, no codec, no hooks, no
// metrics). It answers `/ipam.v1.Ipam/Allocate` and `/ipam.v1.Ipam/Release` with canned bytes —
// the exact encoded answers ipamd gave the bench for the same calls — without decoding the
// request: the least any gRPC server on this Node, this library and this socket can do for the
// same bytes on the wire.
//
// Usage: raw-echo-server.ts SOCKET ALLOCATE_BASE64 RELEASE_BASE64. Prints "ready" when serving.
import {
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServiceDefinition,
  type sendUnaryData,
} from "@grpc/grpc-js";

const [path, allocateB64, releaseB64] = process.argv.slice(2);
if (path === undefined || allocateB64 === undefined || releaseB64 === undefined) {
  throw new Error("usage: raw-echo-server.ts SOCKET ALLOCATE_BASE64 RELEASE_BASE64");
}
const answers = {
  allocate: Buffer.from(allocateB64, "base64"),
  release: Buffer.from(releaseB64, "base64"),
};

const identity = (b: Buffer): Buffer => b;
function method(name: "Allocate" | "Release") {
  return {
    path: `/ipam.v1.Ipam/${name}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  } as const;
}
const definition: ServiceDefinition = {
  allocate: method("Allocate"),
  release: method("Release"),
};
const reply =
  (answer: Buffer) => (_call: ServerUnaryCall<Buffer, Buffer>, done: sendUnaryData<Buffer>) =>
    done(null, answer);

const server = new Server();
server.addService(definition, {
  allocate: reply(answers.allocate),
  release: reply(answers.release),
});
server.bindAsync(`unix:${path}`, ServerCredentials.createInsecure(), (err) => {
  if (err !== null) {
    console.error(err);
    process.exit(1);
  }
  process.stdout.write("ready\n");
});
process.on("SIGTERM", () => {
  server.tryShutdown(() => process.exit(0));
});
