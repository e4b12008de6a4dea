// The in-memory allocator behind a real server in its own process, as ipamd is to the CNI
// plugin: `node --import tsx bench/serve-allocator.ts SOCKET`. Prints "ready" once listening;
// stops on SIGTERM.
import { createIpamService, startGrpcServer } from "../src/index.js";
import { memoryAllocator } from "./handlers.js";

const socket = process.argv[2];
if (socket === undefined) throw new Error("usage: serve-allocator.ts SOCKET");
const server = await startGrpcServer({
  unixSocket: { path: socket },
  services: [createIpamService(memoryAllocator())],
});
process.once("SIGTERM", () => {
  void server.shutdown(500).then(() => process.exit(0));
});
console.log("ready");
