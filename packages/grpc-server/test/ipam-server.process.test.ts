import { spawn } from "node:child_process";
import { statSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createIpamClient, createIpamService, startGrpcServer } from "../src/index.js";
import { createInMemoryIpam } from "../src/testing/in-memory-ipam.js";
import { tempFolder } from "./support/temp.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe("startGrpcServer on a unix socket left by a killed process", () => {
  it("replaces a stale socket file left by a dead process", async () => {
    const dir = tempFolder();
    cleanups.push(dir.cleanup);
    const socket = join(dir.path, "stale.sock");
    // A server killed with SIGKILL leaves its socket file behind.
    const child = spawn(process.execPath, [
      "-e",
      `require("node:net").createServer().listen(${JSON.stringify(socket)}, () => console.log("up"))`,
    ]);
    await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    expect(statSync(socket).isSocket()).toBe(true);
    const server = await startGrpcServer({
      unixSocket: { path: socket },
      services: [createIpamService(createInMemoryIpam().handlers)],
    });
    cleanups.push(() => server.shutdown(100));
    const ipam = createIpamClient({ addresses: [`unix:${socket}`], deadlineMs: 60_000 });
    cleanups.push(() => ipam.close());
    const status = await ipam.status({});
    expect(status.nodeId).toBe("node-1");
  });
});
