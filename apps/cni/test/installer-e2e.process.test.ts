// The installer the agent's init container runs (dist/install-cni.cjs), end to end as root: it
// installs the single-executable plugin and a network list into a temporary host root, and the
// installed plugin then answers VERSION and a real ADD/DEL through Debian's reference bridge
// plugin, in a network namespace this test creates, against a real ipamd (role all).
import { execFileSync, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type IpamdDaemon, startIpamd } from "./ipamd-daemon.js";

const BRIDGE = "/usr/lib/cni/bridge";
const isRoot = process.getuid?.() === 0;
const ready = isRoot && existsSync(BRIDGE);
if (!ready) {
  console.warn(
    `\n*** SKIPPING installer end-to-end test: ${isRoot ? `${BRIDGE} missing` : "not root"} ***\n`,
  );
}

const DIST = fileURLToPath(new URL("../dist/", import.meta.url));
const INSTALLER = join(DIST, "install-cni.cjs");
const SEA = join(DIST, `ipamd-cni-${process.platform}-${process.arch}`);

// Unique per run: two checkouts may run this test at once.
const suffix = Math.random().toString(36).slice(2, 8);
const NS = `ipamd-inst-${suffix}`;
const BRIDGE_NAME = `ipi${suffix}`;
const third = 100 + Math.floor(Math.random() * 100);
const V4 = `10.99.${third}`;
const V6 = `fd99:0:${third.toString(16)}::`;
const TOPOLOGY = `version: 1
zones:
  - id: inst-zone
    pods:
      - id: inst-pod
        tors:
          - id: inst-tor
            subnets:
              - { id: inst-v4, cidr: ${V4}.0/24, purpose: default, gateway: ${V4}.1, blockPrefix: 28 }
              - { id: inst-v6, cidr: "${V6}/64", purpose: default, gateway: "${V6}1", blockPrefix: 120 }
`;

let dir: string;
let hostRoot: string;
let conflistFile: string;
let daemon: IpamdDaemon | undefined;

const binDir = () => join(hostRoot, "opt/cni/bin");
const confDir = () => join(hostRoot, "etc/cni/net.d");
const installedPlugin = () => join(binDir(), "ipamd-cni");
const installedConflist = () => join(confDir(), "10-ipamd.conflist");

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
}

/** Runs the installer as the init container does: settings in IPAMD_CNI_* variables. */
function install(args: string[] = [], env: Record<string, string> = {}) {
  const run = spawnSync(process.execPath, [INSTALLER, "--json", ...args], {
    encoding: "utf8",
    env: {
      PATH: process.env.PATH,
      IPAMD_CNI_HOST_ROOT: hostRoot,
      IPAMD_CNI_CONFLIST: conflistFile,
      ...env,
    },
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

interface CniRun {
  code: number;
  // biome-ignore lint/suspicious/noExplicitAny: parsed CNI JSON, checked field by field
  out: any;
}

/** One CNI call of `plugin` as a runtime makes it, plugins searched in the host's bin dir. */
function cni(plugin: string, command: string, containerId: string, config: object): CniRun {
  const run = spawnSync(plugin, [], {
    input: JSON.stringify(config),
    encoding: "utf8",
    env: {
      PATH: process.env.PATH,
      CNI_COMMAND: command,
      CNI_CONTAINERID: containerId,
      CNI_NETNS: `/var/run/netns/${NS}`,
      CNI_IFNAME: "eth0",
      CNI_PATH: `${binDir()}:/usr/lib/cni`,
      CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=install;K8S_POD_NAME=p",
    },
  });
  return { code: run.status ?? -1, out: run.stdout === "" ? undefined : JSON.parse(run.stdout) };
}

/** The network configuration a runtime derives from the installed list for its first plugin. */
function runtimeConfOf(conflistPath: string, extra: object = {}): object {
  const list = JSON.parse(readFileSync(conflistPath, "utf8"));
  return { ...list.plugins[0], cniVersion: list.cniVersion, name: list.name, ...extra };
}

const temporaries = (folder: string) => readdirSync(folder).filter((f) => f.endsWith(".tmp"));

describe.skipIf(!ready)("ipamd-cni-install into a host root (root)", () => {
  beforeAll(async () => {
    for (const file of [INSTALLER, SEA]) {
      if (!existsSync(file)) throw new Error(`${file} missing: run pnpm --filter @ipam/cni build`);
    }
    dir = mkdtempSync(join(tmpdir(), "ipamd-cni-install-"));
    hostRoot = join(dir, "host");
    const socketPath = join(dir, "ipamd.sock");
    conflistFile = join(dir, "conflist.json");
    writeFileSync(
      conflistFile,
      JSON.stringify({
        cniVersion: "1.0.0",
        name: `inst-${suffix}`,
        plugins: [
          {
            type: "bridge",
            bridge: BRIDGE_NAME,
            isGateway: true,
            ipam: { type: "ipamd-cni", socketPath, families: ["ipv4", "ipv6"] },
          },
        ],
      }),
    );
    const status = { cniVersion: "1.1.0", name: "ready", ipam: { type: "ipamd-cni", socketPath } };
    daemon = await startIpamd({
      dir,
      topology: TOPOLOGY,
      tor: "inst-tor",
      nodeId: "cni-install",
      isReady: () => cni(SEA, "STATUS", "", status).code === 0,
    });
    sh("ip", ["netns", "add", NS]);
  });

  afterAll(async () => {
    try {
      sh("ip", ["netns", "del", NS]);
    } catch {}
    try {
      sh("ip", ["link", "del", BRIDGE_NAME]);
    } catch {}
    await daemon?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("installs the plugin and the list; the installed plugin answers VERSION and ADD/DEL through bridge", () => {
    // What an install killed half way leaves behind.
    mkdirSync(binDir(), { recursive: true });
    writeFileSync(join(binDir(), ".ipamd-cni.999999.tmp"), "partial");

    const run = install();
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({
      plugin: { path: installedPlugin(), action: "installed" },
      conflist: { path: installedConflist(), action: "written" },
      removedLeftovers: [join(binDir(), ".ipamd-cni.999999.tmp")],
    });
    expect(statSync(installedPlugin()).mode & 0o777).toBe(0o755);
    expect(statSync(installedPlugin()).size).toBe(statSync(SEA).size);
    expect(JSON.parse(readFileSync(installedConflist(), "utf8"))).toEqual(
      JSON.parse(readFileSync(conflistFile, "utf8")),
    );
    expect(temporaries(binDir())).toEqual([]);
    expect(temporaries(confDir())).toEqual([]);

    const version = cni(installedPlugin(), "VERSION", "", { cniVersion: "1.1.0" });
    expect(version.code).toBe(0);
    expect(version.out.supportedVersions).toContain("1.1.0");

    // The runtime's view: bridge, found by type, delegates to ipamd-cni in the host's bin dir.
    const add = cni(BRIDGE, "ADD", "ctr-1", runtimeConfOf(installedConflist()));
    expect(add.code, JSON.stringify(add.out)).toBe(0);
    const [v4, v6] = add.out.ips.map((ip: { address: string }) => ip.address);
    expect(v4).toMatch(new RegExp(`^10\\.99\\.${third}\\.\\d+/24$`));
    expect(v4).not.toBe(`${V4}.1/24`);
    expect(v6.startsWith(V6)).toBe(true);
    expect(sh("ip", ["netns", "exec", NS, "ip", "addr", "show", "eth0"])).toContain(v4);

    const check = () =>
      cni(
        installedPlugin(),
        "CHECK",
        "ctr-1",
        runtimeConfOf(installedConflist(), {
          prevResult: add.out,
        }),
      );
    expect(check().code).toBe(0);
    expect(cni(BRIDGE, "DEL", "ctr-1", runtimeConfOf(installedConflist())).code).toBe(0);
    // ipamd no longer holds anything for the container: CHECK says "unknown container".
    expect(check().code).toBe(3);
  });

  it("leaves up-to-date files alone, and keeps them when the new plugin or list is bad", () => {
    const before = statSync(installedPlugin()).mtimeMs;
    const listBefore = readFileSync(installedConflist(), "utf8");
    const again = install();
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({
      plugin: { action: "unchanged" },
      conflist: { action: "unchanged" },
    });
    expect(statSync(installedPlugin()).mtimeMs).toBe(before);

    // An executable that does not answer VERSION never replaces the working one.
    const broken = install(["--plugin", "/bin/false"]);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/\/bin\/false does not answer CNI VERSION/);
    expect(statSync(installedPlugin()).size).toBe(statSync(SEA).size);
    expect(cni(installedPlugin(), "VERSION", "", { cniVersion: "1.1.0" }).code).toBe(0);

    // A list the plugin would refuse is refused here, naming the field.
    const badList = join(dir, "bad.conflist");
    writeFileSync(
      badList,
      JSON.stringify({
        cniVersion: "1.0.0",
        name: "bad",
        plugins: [{ type: "bridge", ipam: { type: "ipamd-cni", famlies: ["ipv4"] } }],
      }),
    );
    const bad = install([], { IPAMD_CNI_CONFLIST: badList });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/plugins\[0\]\.ipam\.famlies/);
    expect(readFileSync(installedConflist(), "utf8")).toBe(listBefore);
    expect(temporaries(binDir())).toEqual([]);
    expect(temporaries(confDir())).toEqual([]);
  });

  it("--uninstall removes the list, then the plugin", () => {
    const run = install(["--uninstall"]);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).removed).toEqual([installedConflist(), installedPlugin()]);
    expect(existsSync(installedConflist())).toBe(false);
    expect(existsSync(installedPlugin())).toBe(false);
  });
});
