// The `ipamd-cni` executable runs the plugin through a V8 code cache kept beside it: written by
// the first successful ADD, used from then on, replaced when damaged or foreign, never in the way
// of a result. Each test runs a copy of the built executable in its own folder.

import { execFile } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createIpamServer, type GrpcServer } from "@ipam/grpc-server";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createTestIpamHandlers } from "./test-ipam-handlers.js";

const DIST = fileURLToPath(new URL("../dist/", import.meta.url));
let dir: string;
let socketPath: string;
let server: GrpcServer;
const installs: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "ipamd-cni-launcher-"));
  socketPath = join(dir, "ipamd.sock");
  server = await createIpamServer({
    unixSocket: { path: socketPath },
    handlers: createTestIpamHandlers(50),
    reflection: false,
  });
});

afterAll(async () => {
  await server.shutdown(1000);
  rmSync(dir, { recursive: true, force: true });
});

afterEach(() => {
  for (const install of installs.splice(0)) rmSync(install, { recursive: true, force: true });
});

/** A private copy of the built executable and plugin; returns its folder. */
function install(): string {
  for (const file of ["main.cjs", "plugin.cjs"]) {
    if (!existsSync(join(DIST, file))) throw new Error(`${DIST}${file} missing: run pnpm build`);
  }
  const folder = mkdtempSync(join(dir, "bin-"));
  installs.push(folder);
  copyFileSync(join(DIST, "main.cjs"), join(folder, "main.cjs"));
  copyFileSync(join(DIST, "plugin.cjs"), join(folder, "plugin.cjs"));
  return folder;
}

interface Run {
  code: number;
  stdout: string;
  cacheLine: { state: string; written: boolean } | undefined;
}

function run(folder: string, command: string, containerId: string, env = {}): Promise<Run> {
  const config = JSON.stringify({
    cniVersion: "1.0.0",
    name: "launcher",
    ipam: { type: "ipamd-cni", socketPath },
  });
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [join(folder, "main.cjs")],
      {
        env: {
          CNI_COMMAND: command,
          CNI_CONTAINERID: containerId,
          CNI_NETNS: "/proc/1/ns/net",
          CNI_IFNAME: "eth0",
          IPAMD_CNI_DEBUG: "1",
          ...env,
        },
      },
      (error, stdout, stderr) => {
        const line = stderr
          .split("\n")
          .filter((l) => l.includes('"code cache"'))
          .map((l) => JSON.parse(l) as { state: string; written: boolean })[0];
        resolve({ code: error === null ? 0 : Number(error.code), stdout, cacheLine: line });
      },
    );
    child.stdin?.end(command === "VERSION" ? '{"cniVersion":"1.1.0"}' : config);
  });
}

const cacheOf = (folder: string) => join(folder, "plugin.cjs.v8-cache");

describe("the ipamd-cni executable's code cache", () => {
  it("is written by the first successful ADD, then used and left alone", async () => {
    const folder = install();
    const version = await run(folder, "VERSION", "x");
    expect(version.code).toBe(0);
    expect(existsSync(cacheOf(folder))).toBe(false);

    const first = await run(folder, "ADD", "c1");
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout).ips[0].address).toMatch(/^10\.99\.0\.\d+\/24$/);
    expect(first.cacheLine).toMatchObject({ state: "missing", written: true });
    const written = readFileSync(cacheOf(folder));
    expect(written.length).toBeGreaterThan(1000);
    const mtime = statSync(cacheOf(folder)).mtimeMs;

    const second = await run(folder, "ADD", "c2");
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout).ips[0].address).not.toBe(
      JSON.parse(first.stdout).ips[0].address,
    );
    expect(second.cacheLine).toMatchObject({ state: "used", written: false });
    expect(statSync(cacheOf(folder)).mtimeMs).toBe(mtime);
    const del = await run(folder, "DEL", "c2");
    expect(del).toMatchObject({ code: 0, cacheLine: { state: "used" } });
  });

  it("ignores a damaged cache, answers anyway, and replaces it on the next ADD", async () => {
    const folder = install();
    writeFileSync(cacheOf(folder), Buffer.alloc(4096, 0x5a));
    const add = await run(folder, "ADD", "d1");
    expect(add.code).toBe(0);
    expect(JSON.parse(add.stdout).ips).toHaveLength(1);
    expect(add.cacheLine).toMatchObject({ state: "rejected", written: true });
    const next = await run(folder, "ADD", "d2");
    expect(next.cacheLine).toMatchObject({ state: "used" });
  });

  it("answers a CNI error on stdout when the plugin bundle is missing beside it", async () => {
    const folder = install();
    rmSync(join(folder, "plugin.cjs"));
    const add = await run(folder, "ADD", "m1");
    expect(add.code).toBe(100);
    expect(JSON.parse(add.stdout)).toMatchObject({
      code: 100,
      msg: expect.stringMatching(/plugin\.cjs/),
    });
  });

  it("writes nothing for a failed ADD, nor with IPAMD_CNI_CODE_CACHE=off", async () => {
    const folder = install();
    const failed = await run(folder, "ADD", "e1", { CNI_IFNAME: "" });
    expect(failed.code).toBe(4);
    expect(failed.cacheLine).toMatchObject({ state: "missing", written: false });
    const off = await run(folder, "ADD", "e2", { IPAMD_CNI_CODE_CACHE: "off" });
    expect(off.code).toBe(0);
    expect(off.cacheLine).toMatchObject({ state: "off", written: false });
    expect(existsSync(cacheOf(folder))).toBe(false);
  });
});
