// A do-nothing ipam.v1.Ipam service on a unix socket: the ceiling the daemon is compared with.
import { createIpamService, startGrpcServer } from "@ipam/grpc-server";

const path = process.argv[2];
if (path === undefined) throw new Error("usage: echo-server.ts SOCKET");
const server = await startGrpcServer({
  unixSocket: { path },
  services: [createIpamService({ allocate: () => ({}), release: () => ({}) })],
  reflection: false,
});
process.stdout.write("ready\n");
process.on("SIGTERM", () => {
  void server.shutdown(1000).then(() => process.exit(0));
});
