// Test doubles of @ipam/grpc-server (`@ipam/grpc-server/testing`): in-memory implementations of
// the service handlers for tests of clients, the CNI plugin and benchmarks.
export type { InMemoryIpam, InMemoryIpamOptions } from "./in-memory-ipam.js";
export { createInMemoryIpam } from "./in-memory-ipam.js";
