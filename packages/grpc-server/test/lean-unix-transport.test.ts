// The lean client's `unixTransport` option against the real node API server (the socket itself:
// @ipam/grpc-client's test/unix-stream.test.ts).

import { join } from "node:path";
import { createLeanIpamClient, type UnixTransport } from "@ipam/grpc-client";
import { afterEach, describe, expect, it } from "vitest";
import { createIpamServer } from "../src/index.js";
import { createInMemoryIpam } from "../src/testing/in-memory-ipam.js";
import { tempFolder } from "./support/temp.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function socketPath(): string {
  const dir = tempFolder("ipg-us-");
  cleanups.push(dir.cleanup);
  return join(dir.path, "s.sock");
}

/** The in-memory node API on a fresh unix socket, stopped at cleanup; the socket's path. */
async function serveInMemoryIpam(): Promise<string> {
  const socket = socketPath();
  const server = await createIpamServer({
    unixSocket: { path: socket },
    handlers: createInMemoryIpam().handlers,
  });
  cleanups.push(() => server.shutdown(100));
  return socket;
}

describe("createLeanIpamClient's unixTransport option", () => {
  it("refuses a value it does not know, naming the option", () => {
    expect(() =>
      createLeanIpamClient({ socketPath: "/x.sock", unixTransport: "pipe" as UnixTransport }),
    ).toThrow(/unixTransport: must be "auto" or "net", got "pipe"/);
  });

  it("answers the same through node:net when asked", async () => {
    const socket = await serveInMemoryIpam();
    const client = createLeanIpamClient({ socketPath: socket, unixTransport: "net" });
    cleanups.push(() => client.close());
    const answer = await client.allocate({ network: "pods", containerId: "n1", ifname: "eth0" });
    expect(answer.addresses[0]?.address).toBe("10.99.0.2");
  });
});
