// What goes into the image (deploy/Containerfile), without an image builder: the Containerfile's
// build stage runs image/assemble.sh on a built checkout and the final stage copies its output
// over the Node base image. This test runs assemble.sh the same way into a temporary root and
// starts every entrypoint from there, as the image's non-root user would find them.
import { execFileSync, spawnSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { start, stop, waitFor } from "./processes.js";
import { DEPLOY, OVERLAYS, renderOverlay } from "./render.js";

const REPO = join(DEPLOY, "..");
const CONTAINERFILE = readFileSync(join(DEPLOY, "Containerfile"), "utf8");
let rootfs: string;
let work: string;

const bin = (name: string) => join(rootfs, "usr/local/bin", name);
/** Runs a file of the image; PATH has node (the base image's) and the image's bin folder. */
function runImage(file: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(file, args, {
    encoding: "utf8",
    timeout: 120_000,
    env: { PATH: `${join(rootfs, "usr/local/bin")}:${dirname(process.execPath)}`, ...env },
  });
}

describe("the image's files (Containerfile, image/assemble.sh)", () => {
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "ipamd-image-"));
    rootfs = join(work, "rootfs");
    execFileSync("sh", [join(DEPLOY, "image/assemble.sh"), rootfs], {
      cwd: REPO,
      stdio: ["ignore", "pipe", "pipe"],
    });
  });

  afterAll(() => {
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it("builds from the files the Containerfile names, on a pinned Node 20 base", () => {
    const base = /^ARG NODE_IMAGE=(\S+)$/m.exec(CONTAINERFILE)?.[1] ?? "";
    // A full version, never a moving tag, and a Node the packages support (engines >= 20.19).
    const [, major, minor] = /:(\d+)\.(\d+)\.\d+-[\w-]+$/.exec(base) ?? [];
    expect(Number(major), base).toBe(20);
    expect(Number(minor), base).toBeGreaterThanOrEqual(19);
    const pnpm = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")).packageManager;
    expect(CONTAINERFILE).toContain(`npm install -g ${pnpm}`);
    for (const [, script] of CONTAINERFILE.matchAll(/^RUN sh (\S+)/gm)) {
      expect(existsSync(join(REPO, script ?? "")), script).toBe(true);
    }
    expect(CONTAINERFILE).toMatch(/^COPY --from=build \/rootfs\/ \/$/m);
    expect(CONTAINERFILE).toMatch(/^USER 65532:65532$/m);
    expect(CONTAINERFILE).toMatch(/^ENTRYPOINT \["ipamd"\]$/m);
    // The build context leaves out what the build stage makes itself.
    const ignored = readFileSync(join(DEPLOY, "Containerfile.dockerignore"), "utf8");
    for (const pattern of ["**/node_modules", "**/dist", ".git"])
      expect(ignored).toContain(pattern);
  });

  it("holds every command the manifests run, and every file is readable by the non-root user", () => {
    const commands = new Set<string>();
    for (const overlay of OVERLAYS) {
      for (const o of renderOverlay(overlay)) {
        const pod = (o as { spec?: { template?: { spec?: Record<string, unknown> } } }).spec
          ?.template?.spec;
        const containers = [
          ...((pod?.initContainers ?? []) as { command?: string[] }[]),
          ...((pod?.containers ?? []) as { command?: string[] }[]),
        ];
        // No command: the image's ENTRYPOINT, ipamd.
        for (const c of containers) commands.add(c.command?.[0] ?? "ipamd");
      }
    }
    expect([...commands].sort()).toEqual([
      "ipamd",
      "ipamd-cni-install",
      "ipamd-server-start",
      "sh",
    ]);
    for (const command of commands) {
      if (command === "sh") continue; // the base image's
      expect(existsSync(bin(command)), command).toBe(true);
    }
    const walk = (path: string): void => {
      const link = lstatSync(path);
      if (link.isSymbolicLink()) {
        expect(existsSync(path), `dangling ${path}`).toBe(true);
        return;
      }
      const other = link.mode & 0o7;
      if (link.isDirectory()) {
        expect(other & 0o5, `${path} not listable by others`).toBe(0o5);
        for (const entry of readdirSync(path)) walk(join(path, entry));
      } else {
        expect(other & 0o4, `${path} not readable by others`).toBe(0o4);
      }
    };
    walk(rootfs);
    for (const file of ["ipamd", "ipamd-cni-install", "ipamd-server-start"]) {
      expect(statSync(bin(file)).mode & 0o1, `${file} not executable by others`).toBe(0o1);
    }
    // Production dependencies only.
    const modules = readdirSync(join(rootfs, "opt/ipamd/node_modules/.pnpm"));
    for (const dev of ["vitest@", "typescript@", "tsup@", "@biomejs"]) {
      expect(
        modules.some((m) => m.startsWith(dev)),
        dev,
      ).toBe(false);
    }
  });

  it("ipamd starts from the image's files, opens its SQLite store and answers", async () => {
    expect(runImage(bin("ipamd"), ["--version"]).stdout).toMatch(/^ipamd \d+\.\d+\.\d+/);
    expect(realpathSync(bin("ipamd"))).toBe(join(rootfs, "opt/ipamd/dist/main.js"));
    const socket = join(work, "ipamd.sock");
    const daemon = start(
      bin("ipamd"),
      [
        ...["--data-dir", join(work, "data"), "--unix-socket", socket],
        ...["--grpc-addr", "127.0.0.1:0", "--metrics-addr", "off", "--log-level", "warn"],
      ],
      { PATH: dirname(process.execPath) },
    );
    try {
      const status = await waitFor("ipamd status READY", () => {
        const run = runImage(bin("ipamd"), ["status", "--unix-socket", socket]);
        return run.status === 0 ? run.stdout : undefined;
      });
      expect(status).toContain("READY");
      const allocated = runImage(bin("ipamd"), [
        ...["allocate", "--network", "image", "--container", "c1", "--unix-socket", socket],
      ]);
      expect(allocated.status, allocated.stderr).toBe(0);
      expect(existsSync(join(work, "data/ipamd.db"))).toBe(true);
    } finally {
      await stop(daemon);
    }
    expect(daemon.child.exitCode).toBe(0);
  });

  it("ipamd-cni-install installs the image's plugin, which answers VERSION", () => {
    const host = join(work, "host");
    const run = runImage(bin("ipamd-cni-install"), ["--host-root", host, "--json"]);
    expect(run.status, run.stderr).toBe(0);
    const plugin = join(host, "opt/cni/bin/ipamd-cni");
    const version = spawnSync(plugin, [], {
      input: '{"cniVersion":"1.1.0"}',
      env: { CNI_COMMAND: "VERSION" },
      encoding: "utf8",
    });
    expect(version.status).toBe(0);
    expect(JSON.parse(version.stdout).supportedVersions).toContain("1.1.0");
    expect(existsSync(join(host, "etc/cni/net.d/10-ipamd.conflist"))).toBe(true);
  });

  it("ipamd-server-start runs and names what is missing", () => {
    const run = runImage(bin("ipamd-server-start"), []);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("POD_NAME: required");
    const unordered = runImage(bin("ipamd-server-start"), [], {
      POD_NAME: "ipamd-server-3",
      IPAMD_SERVER_ADDRS: "a:7400,b:7400,c:7400",
    });
    expect(unordered.status).toBe(1);
    expect(unordered.stderr).toContain("lists 3 servers, none for ordinal 3");
  });
});
