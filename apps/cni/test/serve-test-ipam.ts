// A stand-alone node API server for end-to-end tests: `tsx test/serve-test-ipam.ts SOCKET`.
// Serves the in-memory test allocator on SOCKET until SIGTERM.
import { createIpamServer } from "@ipam/grpc-server";
import { createTestIpamHandlers } from "./test-ipam-handlers.js";

const socketPath = process.argv[2];
if (socketPath === undefined) {
  console.error("usage: serve-test-ipam.ts SOCKET");
  process.exit(2);
}
const server = await createIpamServer({
  unixSocket: { path: socketPath },
  handlers: createTestIpamHandlers(200),
  reflection: false,
});
process.on("SIGTERM", () => {
  void server.shutdown(1000).then(() => process.exit(0));
});
