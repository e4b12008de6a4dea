import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createIpamServer, type GrpcServer } from "@ipam/grpc-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGrpcBackend } from "../src/backend-grpc.js";
import { runPlugin } from "../src/plugin.js";
import { createTestIpamHandlers } from "./test-ipam-handlers.js";

let dir: string;
let socketPath: string;
let server: GrpcServer;
let handlers: ReturnType<typeof createTestIpamHandlers>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "ipamd-cni-"));
  socketPath = join(dir, "ipamd.sock");
  handlers = createTestIpamHandlers(3);
  server = await createIpamServer({
    unixSocket: { path: socketPath },
    handlers,
    reflection: false,
  });
});

afterAll(async () => {
  await server.shutdown(1000);
  rmSync(dir, { recursive: true, force: true });
});

function sink() {
  let text = "";
  return {
    write: (s: string) => {
      text += s;
    },
    get text() {
      return text;
    },
  };
}

async function run(
  command: string,
  extra: Record<string, unknown>,
  env: Record<string, string> = {},
  ipam: Record<string, unknown> = {},
) {
  const stdout = sink();
  const code = await runPlugin({
    env: {
      CNI_COMMAND: command,
      CNI_CONTAINERID: "c1",
      CNI_NETNS: "/proc/1/ns/net",
      CNI_IFNAME: "eth0",
      ...env,
    },
    stdin: JSON.stringify({
      cniVersion: "1.1.0",
      name: "grpcnet",
      ipam: { type: "ipamd-cni", socketPath, families: ["ipv4", "ipv6"], ...ipam },
      ...extra,
    }),
    stdout,
    stderr: sink(),
    createBackend: createGrpcBackend,
  });
  return { code, out: stdout.text === "" ? undefined : JSON.parse(stdout.text) };
}

describe("runPlugin with the lean gRPC client against a real Ipam server", () => {
  it("ADD, repeated ADD, CHECK, DEL, GC, STATUS", async () => {
    const add = await run("ADD", {});
    expect(add.code).toBe(0);
    expect(add.out.ips).toEqual([
      { address: "10.99.0.2/24", gateway: "10.99.0.1" },
      { address: "fd99::2/64", gateway: "fd99::1" },
    ]);
    expect((await run("ADD", {})).out).toEqual(add.out);
    expect((await run("CHECK", { prevResult: add.out })).code).toBe(0);
    expect((await run("CHECK", { prevResult: add.out }, { CNI_CONTAINERID: "nobody" })).code).toBe(
      3,
    );
    expect((await run("STATUS", {})).code).toBe(0);
    await run("ADD", {}, { CNI_CONTAINERID: "crashed" });
    expect(handlers.size()).toBe(2);
    const gc = await run("GC", {
      "cni.dev/valid-attachments": [{ containerID: "c1", ifname: "eth0" }],
    });
    expect(gc.code).toBe(0);
    expect(handlers.size()).toBe(1);
    expect((await run("DEL", {})).code).toBe(0);
    expect(handlers.size()).toBe(0);
    expect((await run("DEL", {})).code).toBe(0);
  });

  it("exhaustion is code 11 on ADD and 50 on STATUS", async () => {
    for (const id of ["a", "b", "c"])
      expect((await run("ADD", {}, { CNI_CONTAINERID: id })).code).toBe(0);
    const full = await run("ADD", {}, { CNI_CONTAINERID: "d" });
    expect(full.out).toMatchObject({ code: 11 });
    expect((await run("STATUS", {})).code).toBe(50);
    await run("GC", { "cni.dev/valid-attachments": [] });
  });

  it("an absent socket is code 11 on ADD and 50 on STATUS", async () => {
    const missing = { socketPath: join(dir, "none.sock") };
    const add = await run("ADD", {}, {}, missing);
    expect(add.out).toMatchObject({ code: 11 });
    expect(add.out.msg).toContain("is ipamd running?");
    expect((await run("STATUS", {}, {}, missing)).code).toBe(50);
  });
});
