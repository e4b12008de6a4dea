import { execFile, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createIpamService, type GrpcServer, Ipam, startGrpcServer } from "../src/index.js";
import { fileDescriptorSet } from "../src/reflection-descriptors.js";
import { createInMemoryIpam } from "../src/testing/in-memory-ipam.js";
import { tempFolder } from "./support/temp.js";

const python = "/usr/bin/python3";
const probe = spawnSync(python, ["-c", "import grpc"], { stdio: "pipe" });
const havePythonGrpc = probe.status === 0;
if (!havePythonGrpc) {
  console.warn(
    "\n!!! SKIPPING the python3-grpcio interop test: `/usr/bin/python3 -c 'import grpc'` failed." +
      " Install Debian's python3-grpcio (apt-get install python3-grpcio) to run it. !!!\n",
  );
}

describe.skipIf(!havePythonGrpc)("interop with python3-grpcio over the unix socket", () => {
  const dir = tempFolder();
  const socket = join(dir.path, "ipamd.sock");
  const descriptors = join(dir.path, "ipam.binpb");
  let server: GrpcServer;
  beforeAll(async () => {
    writeFileSync(descriptors, fileDescriptorSet([Ipam]));
    server = await startGrpcServer({
      unixSocket: { path: socket },
      services: [createIpamService(createInMemoryIpam().handlers)],
    });
  });
  afterAll(async () => {
    await server.shutdown(100);
    dir.cleanup();
  });

  it("answers Allocate from a client that is not ours, errors included", async () => {
    // Asynchronous: the server runs in this process and must keep serving meanwhile.
    const { stdout: output } = await promisify(execFile)(
      python,
      [join(import.meta.dirname, "interop", "allocate.py"), socket, descriptors],
      { encoding: "utf8", timeout: 120_000 },
    );
    const result = JSON.parse(output) as {
      ok: { addresses: Array<{ address: string; prefix_length: number; family: string }> };
      error: { status: string; details: string; ipam_error_code: string } | null;
    };
    expect(result.ok.addresses.map((a) => [a.address, a.prefix_length, a.family])).toEqual([
      ["10.99.0.2", 24, "FAMILY_IPV4"],
      ["fd99::2", 120, "FAMILY_IPV6"],
    ]);
    expect(result.error).toEqual({
      status: "INVALID_ARGUMENT",
      details: "network: required",
      ipam_error_code: "INVALID_ARGUMENT",
    });
  });
});
