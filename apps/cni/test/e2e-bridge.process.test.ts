import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type IpamdDaemon, startIpamd } from "./ipamd-daemon.js";

// End to end as root: the reference bridge plugin delegating IPAM to ipamd-cni, in network
// namespaces this test creates, against a real ipamd (role all, durable store, its own data
// folder and a test topology with gateways; see ipamd-daemon.ts for IPAMD_CNI_E2E_SERVER).
const BRIDGE = "/usr/lib/cni/bridge";
const isRoot = process.getuid?.() === 0;
const ready = isRoot && existsSync(BRIDGE);
const hasPing = ["/usr/bin/ping", "/bin/ping"].some((p) => existsSync(p));
if (!ready) {
  console.warn(
    `\n*** SKIPPING ipamd-cni end-to-end test: ${isRoot ? `${BRIDGE} missing` : "not root"} ***\n`,
  );
}

const APP = fileURLToPath(new URL("..", import.meta.url));
const MAIN = join(APP, "dist/main.cjs");
// Everything this run creates on the host is named for it, so that two checkouts can run the
// suite at once: namespaces and bridge carry a random suffix, and the rack's subnets are one
// random /24 of 10.99.0.0/16 and /64 of fd99::/48 (the bridge plugin routes them on the host).
const suffix = Math.random().toString(36).slice(2, 8);
const NS_A = `ipamd-e2e-${suffix}-a`;
const NS_B = `ipamd-e2e-${suffix}-b`;
const NS_C = `ipamd-e2e-${suffix}-c`;
const BRIDGE_NAME = `ipe2e-${suffix}`; // at most 15 characters
// The in-memory stand-in (IPAMD_CNI_E2E_SERVER) always serves rack 0: 10.99.0.0/24, fd99::/64.
const RACK = process.env.IPAMD_CNI_E2E_SERVER ? 0 : 1 + Math.floor(Math.random() * 254);
const V4_PREFIX = `10.99.${RACK}.`;
const V6_PREFIX = RACK === 0 ? "fd99::" : `fd99:0:0:${RACK.toString(16)}::`;
// One rack: the bridge takes each subnet's gateway, so ipamd must never hand it out.
const TOPOLOGY = `version: 1
zones:
  - id: e2e-zone
    pods:
      - id: e2e-pod
        tors:
          - id: e2e-tor
            subnets:
              - { id: e2e-v4, cidr: ${V4_PREFIX}0/24, purpose: default, gateway: ${V4_PREFIX}1, blockPrefix: 28 }
              - { id: e2e-v6, cidr: "${V6_PREFIX}/64", purpose: default, gateway: "${V6_PREFIX}1", blockPrefix: 120 }
`;
/** How long anything in this test may take on a loaded machine (a backstop, not a target). */
const DEADLINE_MS = 120_000;
let dir: string;
let socketPath: string;
let server: IpamdDaemon | undefined;

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
}

function cni(plugin: string, command: string, ns: string, containerId: string, config: object) {
  try {
    const out = execFileSync(plugin, [], {
      input: JSON.stringify(config),
      encoding: "utf8",
      env: {
        PATH: process.env.PATH,
        CNI_COMMAND: command,
        CNI_CONTAINERID: containerId,
        CNI_NETNS: ns === "" ? "" : `/var/run/netns/${ns}`,
        CNI_IFNAME: "eth0",
        CNI_PATH: `${dir}:/usr/lib/cni`,
        CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=e2e;K8S_POD_NAME=p",
      },
    });
    return { code: 0, out: out === "" ? undefined : JSON.parse(out) };
  } catch (error) {
    const e = error as { status: number; stdout: string };
    return { code: e.status, out: e.stdout === "" ? undefined : JSON.parse(e.stdout) };
  }
}

const ipam = () => ({ type: "ipamd-cni", socketPath, families: ["ipv4", "ipv6"] });
const bridgeConf = () => ({
  cniVersion: "1.0.0",
  name: "ipamd-e2e",
  type: "bridge",
  bridge: BRIDGE_NAME,
  isGateway: true,
  ipam: ipam(),
});
const direct = (extra: object = {}) => ({
  cniVersion: "1.1.0",
  name: "ipamd-e2e",
  type: "bridge",
  ipam: ipam(),
  ...extra,
});

describe.skipIf(!ready)("bridge + ipamd-cni in network namespaces (root)", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ipamd-cni-e2e-"));
    writeFileSync(join(dir, "ipamd-cni"), `#!/bin/sh\nexec ${process.execPath} ${MAIN} "$@"\n`, {
      mode: 0o755,
    });
    socketPath = join(dir, "ipamd.sock");
    // Ready when the plugin's STATUS says ipamd can allocate (exit 0).
    server = await startIpamd({
      dir,
      topology: TOPOLOGY,
      tor: "e2e-tor",
      nodeId: "cni-e2e",
      isReady: () => cni(join(dir, "ipamd-cni"), "STATUS", "", "", direct()).code === 0,
    });
    sh("ip", ["netns", "add", NS_A]);
    sh("ip", ["netns", "add", NS_B]);
    sh("ip", ["netns", "add", NS_C]);
  });

  afterAll(async () => {
    for (const ns of [NS_A, NS_B, NS_C]) {
      try {
        sh("ip", ["netns", "del", ns]);
      } catch {}
    }
    try {
      sh("ip", ["link", "del", BRIDGE_NAME]);
    } catch {}
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("gives distinct dual-stack addresses, is idempotent, DEL and GC free them", async () => {
    const a = cni(BRIDGE, "ADD", NS_A, "ctr-a", bridgeConf());
    const b = cni(BRIDGE, "ADD", NS_B, "ctr-b", bridgeConf());
    expect(a.code, JSON.stringify(a.out)).toBe(0);
    expect(b.code, JSON.stringify(b.out)).toBe(0);
    const addrA = a.out.ips.map((ip: { address: string }) => ip.address);
    const addrB = b.out.ips.map((ip: { address: string }) => ip.address);
    expect(addrA[0]).toMatch(new RegExp(`^${V4_PREFIX.replaceAll(".", "\\.")}\\d+/24$`));
    expect(a.out.ips[0].gateway).toBe(`${V4_PREFIX}1`);
    expect(addrA[0]).not.toBe(`${V4_PREFIX}1/24`);
    expect(addrB[0]).not.toBe(`${V4_PREFIX}1/24`);
    expect(addrA[1]).toMatch(new RegExp(`^${V6_PREFIX}`));
    expect(addrA[0]).not.toBe(addrB[0]);
    // The addresses are really on the interfaces inside the namespaces.
    expect(sh("ip", ["netns", "exec", NS_A, "ip", "addr", "show", "eth0"])).toContain(addrA[0]);
    expect(sh("ip", ["netns", "exec", NS_B, "ip", "-6", "addr", "show", "eth0"])).toContain(
      addrB[1],
    );
    // a reaches b over the bridge (TCP: no ping binary is assumed).
    const ipB = String(addrB[0]).split("/")[0] as string;
    const listener = spawn("ip", [
      "netns",
      "exec",
      NS_B,
      process.execPath,
      "-e",
      `require("net").createServer((s)=>s.end("pong")).listen(7777,"${ipB}",()=>console.log("listening"));setTimeout(()=>process.exit(0),${DEADLINE_MS})`,
    ]);
    await new Promise<void>((resolve) => listener.stdout?.once("data", () => resolve()));
    const reply = sh("ip", [
      "netns",
      "exec",
      NS_A,
      process.execPath,
      "-e",
      `const s=require("net").connect(7777,"${ipB}");s.setTimeout(${DEADLINE_MS},()=>process.exit(1));s.on("data",(d)=>{process.stdout.write(d);process.exit(0)})`,
    ]);
    listener.kill();
    expect(reply).toBe("pong");
    // And ping, both families, where the ping binary is installed (CI installs iputils-ping).
    if (hasPing) {
      const ip6B = String(addrB[1]).split("/")[0] as string;
      // IPv6 addresses stay tentative until duplicate address detection ends: try until then.
      const ping = async (args: string[]) => {
        const deadline = Date.now() + DEADLINE_MS;
        for (;;) {
          try {
            return sh("ip", ["netns", "exec", NS_A, "ping", "-c", "1", "-W", "2", ...args]);
          } catch (error) {
            if (Date.now() > deadline) throw error;
            await new Promise((r) => setTimeout(r, 500));
          }
        }
      };
      expect(await ping([ipB])).toContain("1 received");
      expect(await ping(["-6", ip6B])).toContain("1 received");
    }
    // Repeated ADD for the same key returns the same addresses.
    const again = cni(join(dir, "ipamd-cni"), "ADD", NS_A, "ctr-a", direct());
    expect(again.out.ips.map((ip: { address: string }) => ip.address)).toEqual(addrA);
    // DEL frees b: CHECK then reports an unknown container.
    expect(cni(BRIDGE, "DEL", NS_B, "ctr-b", bridgeConf()).code).toBe(0);
    expect(
      cni(join(dir, "ipamd-cni"), "CHECK", NS_B, "ctr-b", direct({ prevResult: b.out })).code,
    ).toBe(3);
    // a "crashes": its namespace goes away without DEL; GC with no valid attachment frees it.
    sh("ip", ["netns", "del", NS_A]);
    expect(
      cni(join(dir, "ipamd-cni"), "CHECK", NS_B, "ctr-a", direct({ prevResult: a.out })).code,
    ).toBe(0);
    expect(
      cni(join(dir, "ipamd-cni"), "GC", "", "", direct({ "cni.dev/valid-attachments": [] })).code,
    ).toBe(0);
    expect(
      cni(join(dir, "ipamd-cni"), "CHECK", NS_B, "ctr-a", direct({ prevResult: a.out })).code,
    ).toBe(3);
  });
  it("puts a static address (args.cni.ips) on the interface through bridge, and refuses it twice", () => {
    const conf = { ...bridgeConf(), args: { cni: { ips: [`${V4_PREFIX}77`, `${V6_PREFIX}77`] } } };
    const c = cni(BRIDGE, "ADD", NS_C, "ctr-static", conf);
    expect(c.code, JSON.stringify(c.out)).toBe(0);
    expect(c.out.ips.map((ip: { address: string }) => ip.address)).toEqual([
      `${V4_PREFIX}77/24`,
      `${V6_PREFIX}77/64`,
    ]);
    expect(sh("ip", ["netns", "exec", NS_C, "ip", "addr", "show", "eth0"])).toContain(
      `${V4_PREFIX}77/24`,
    );
    // Another container asking for the same address is refused (102), naming the holder.
    const d = cni(join(dir, "ipamd-cni"), "ADD", NS_C, "ctr-static-2", {
      ...direct(),
      args: { cni: { ips: [`${V4_PREFIX}77`] } },
    });
    expect(d.code).toBe(102);
    expect(d.out.msg).toContain("held by ipamd-e2e/ctr-static/eth0");
    expect(cni(BRIDGE, "DEL", NS_C, "ctr-static", conf).code).toBe(0);
  });
});
