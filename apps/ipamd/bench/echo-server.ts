// The "layer echo" of the node API benchmark: a do-nothing ipam.v1.Ipam service on a unix
// socket, built on the project's own server layer (@ipam/grpc-server). It answers canned
// responses of the same shape and size as ipamd's answers to the benchmark's IPv6 Allocate and
// Release. It is not the ceiling (the layer's cost would sit on both sides of the ratio):
// bench/raw-echo-server.ts is; beside it, this one shows what the layer costs. With a second
// argument (another build's @ipam/grpc-server `dist/index.js`), that build serves it instead.
import * as layer from "@ipam/grpc-server";

const { createIpamService, startGrpcServer } = (
  process.argv[3] === undefined ? layer : await import(process.argv[3])
) as typeof layer;

const path = process.argv[2];
if (path === undefined) throw new Error("usage: echo-server.ts SOCKET [GRPC_SERVER_ENTRY]");
const allocated = {
  addresses: [
    {
      address: "fd99::2",
      prefixLength: 64,
      gateway: "fd99::1",
      family: 2,
      subnetId: "tor-a1-1-default-v6",
      blockCidr: "fd99::/120",
      purpose: "default",
    },
  ],
};
const released = { released: true, addresses: ["fd99::2"] };
const server = await startGrpcServer({
  unixSocket: { path },
  services: [createIpamService({ allocate: () => allocated, release: () => released })],
  reflection: false,
});
process.stdout.write("ready\n");
process.on("SIGTERM", () => {
  void server.shutdown(1000).then(() => process.exit(0));
});
