import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type IpamdDaemon, startIpamd } from "./ipamd-daemon.js";

// The plugin (dist/main.cjs, a real process per call) against a real ipamd (role all, durable
// store, its own data folder, socket and topology): static addresses from every source, the
// refusals a runtime sees (exit codes 102, 103), STATUS per purpose (50 when ADD cannot
// succeed) and purposes ipamd does not serve (7 for a typo, 101 for one not on this node's path).

const MAIN = fileURLToPath(new URL("../dist/main.cjs", import.meta.url));
// One rack with block-mode default subnets (both families) and a small direct-mode management
// subnet (/29: .1 is the gateway, .2-.6 are the five addresses); a second rack whose subnets
// are off this node's path (and the only storage subnet).
const TOPOLOGY = `version: 1
zones:
  - id: za-zone
    pods:
      - id: za-pod
        tors:
          - id: za-tor
            subnets:
              - { id: za-v4, cidr: 10.99.0.0/24, purpose: default, blockPrefix: 28 }
              - { id: za-v6, cidr: "fd99::/64", purpose: default, blockPrefix: 120 }
              - { id: za-mgmt-v4, cidr: 10.99.1.0/29, purpose: management, blockPrefix: 32 }
              - { id: za-mgmt-v6, cidr: "fd99:0:0:1::/125", purpose: management, blockPrefix: 128 }
          - id: zb-tor
            subnets:
              - { id: zb-v4, cidr: 10.99.2.0/24, purpose: default, blockPrefix: 28 }
              - { id: zb-storage-v4, cidr: 10.99.3.0/24, purpose: storage, blockPrefix: 28 }
`;
let dir: string;
let daemon: IpamdDaemon | undefined;

interface CniRun {
  readonly code: number;
  // biome-ignore lint/suspicious/noExplicitAny: the CNI result or error JSON, checked field by field.
  readonly out: any;
}

/** One plugin call (asynchronous: several may run at once). */
function cni(
  command: string,
  containerId: string,
  config: object,
  cniArgs = "IgnoreUnknown=1",
): Promise<CniRun> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [MAIN],
      {
        env: {
          PATH: process.env.PATH,
          CNI_COMMAND: command,
          CNI_CONTAINERID: containerId,
          CNI_NETNS: "/proc/self/ns/net",
          CNI_IFNAME: "eth0",
          CNI_PATH: "/nonexistent",
          CNI_ARGS: cniArgs,
        },
      },
      (error, stdout) =>
        resolve({
          code: error === null ? 0 : Number(error.code),
          out: stdout === "" ? undefined : JSON.parse(stdout),
        }),
    );
    child.stdin?.end(JSON.stringify(config));
  });
}

const net = (ipam: object = {}, extra: object = {}) => ({
  cniVersion: "1.1.0",
  name: "answers",
  type: "ipamd-cni",
  ipam: { type: "ipamd-cni", socketPath: join(dir, "ipamd.sock"), ...ipam },
  ...extra,
});
const addresses = (r: CniRun): string[] => r.out.ips.map((ip: { address: string }) => ip.address);

describe("ipamd-cni against a real ipamd: static addresses, STATUS, purposes", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ipamd-cni-answers-"));
    const status = net();
    let probe: CniRun | undefined;
    let probing = false;
    daemon = await startIpamd({
      dir,
      topology: TOPOLOGY,
      tor: "za-tor",
      nodeId: `answers-${Math.random().toString(36).slice(2, 8)}`,
      // Ready once the plugin's STATUS exits 0 (polled; each probe is its own process).
      isReady: () => {
        if (!probing) {
          probing = true;
          void cni("STATUS", "", status).then((r) => {
            probe = r;
            probing = false;
          });
        }
        return probe?.code === 0;
      },
    });
  }, 180_000);

  afterAll(async () => {
    await daemon?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("gives the static address asked for (runtimeConfig.ips), again for the same key, and refuses conflicts with 102", async () => {
    const ask = (id: string, ip: string) =>
      cni("ADD", id, net({}, { runtimeConfig: { ips: [ip] } }));
    const first = await ask("static-a", "10.99.0.200");
    expect(first.code, JSON.stringify(first.out)).toBe(0);
    expect(addresses(first)).toEqual(["10.99.0.200/24"]);
    // Same key, same address: the same answer, not a second address.
    const again = await ask("static-a", "10.99.0.200");
    expect(again.code).toBe(0);
    expect(addresses(again)).toEqual(["10.99.0.200/24"]);
    // Same key, another address: a conflict naming both.
    const other = await ask("static-a", "10.99.0.201");
    expect(other.code).toBe(102);
    expect(other.out.msg).toContain("holds 10.99.0.200, not 10.99.0.201");
    // Another key, the held address: a conflict naming the holder.
    const taken = await ask("static-b", "10.99.0.200");
    expect(taken.code).toBe(102);
    expect(taken.out.msg).toContain("10.99.0.200 is held by answers/static-a/eth0");
    // After DEL the address cools down: still refused, saying until when.
    expect((await cni("DEL", "static-a", net())).code).toBe(0);
    const cooling = await ask("static-b", "10.99.0.200");
    expect(cooling.code).toBe(102);
    expect(cooling.out.msg).toMatch(/10\.99\.0\.200 was released and is cooling down until \d{4}-/);
    // A dynamic ADD never hands out a static address someone holds.
    const held = await ask("static-c", "10.99.0.17");
    expect(held.code).toBe(0);
    const dynamic = await Promise.all(
      Array.from({ length: 8 }, (_, i) => cni("ADD", `dyn-${i}`, net())),
    );
    for (const d of dynamic) {
      expect(d.code).toBe(0);
      expect(addresses(d)).not.toContain("10.99.0.17/24");
    }
  }, 120_000);

  it("takes static addresses from args.cni.ips and CNI_ARGS IP=, one family static and the other dynamic", async () => {
    const dual = await cni(
      "ADD",
      "dual-a",
      net({ families: ["ipv4", "ipv6"] }, { args: { cni: { ips: ["fd99::a:5"] } } }),
    );
    expect(dual.code, JSON.stringify(dual.out)).toBe(0);
    const [v4, v6] = addresses(dual);
    expect(v4).toMatch(/^10\.99\.0\.\d+\/24$/);
    expect(v6).toBe("fd99::a:5/64");
    // CNI_ARGS IP= in the direct-mode management subnet: exactly that address, per key.
    const mgmt = net({ purpose: "management" });
    const m = await cni("ADD", "mgmt-a", mgmt, "IgnoreUnknown=1;IP=10.99.1.4");
    expect(m.code, JSON.stringify(m.out)).toBe(0);
    expect(addresses(m)).toEqual(["10.99.1.4/29"]);
    expect(addresses(await cni("ADD", "mgmt-a", mgmt, "IgnoreUnknown=1;IP=10.99.1.4"))).toEqual([
      "10.99.1.4/29",
    ]);
    const mTaken = await cni("ADD", "mgmt-b", mgmt, "IgnoreUnknown=1;IP=10.99.1.4");
    expect(mTaken.code).toBe(102);
    expect(mTaken.out.msg).toContain("10.99.1.4 is held by answers/mgmt-a/eth0");
    const mSwap = await cni("ADD", "mgmt-a", mgmt, "IgnoreUnknown=1;IP=10.99.1.5");
    expect(mSwap.code).toBe(102);
    expect(mSwap.out.msg).toContain("not 10.99.1.5");
    // A dual-stack ADD whose static address is refused gets nothing at all.
    const half = await cni(
      "ADD",
      "dual-b",
      net({ families: ["ipv4", "ipv6"] }, { args: { cni: { ips: ["fd99::a:5"] } } }),
    );
    expect(half.code).toBe(102);
    expect((await cni("CHECK", "dual-b", net({}, { prevResult: dual.out }))).code).toBe(3);
  }, 120_000);

  it("refuses reserved addresses and addresses outside the node's subnets with 103", async () => {
    const outside = await cni("ADD", "out-a", net(), "IgnoreUnknown=1;IP=10.99.2.5");
    expect(outside.code).toBe(103);
    expect(outside.out.msg).toContain("10.99.2.5 is outside every IPv4 default subnet");
    expect(outside.out.msg).toContain("it belongs to subnet zb-v4");
    const nowhere = await cni("ADD", "out-b", net(), "IgnoreUnknown=1;IP=10.99.200.1");
    expect(nowhere.code).toBe(103);
    const gateway = await cni("ADD", "out-c", net(), "IgnoreUnknown=1;IP=10.99.0.1");
    expect(gateway.code).toBe(103);
    expect(gateway.out.msg).toContain("10.99.0.1 is the gateway of za-v4");
    const broadcast = await cni("ADD", "out-d", net({ purpose: "management" }), "IP=10.99.1.7");
    expect(broadcast.code).toBe(103);
    expect(broadcast.out.msg).toContain("broadcast address");
    // Nothing was allocated for any of them.
    for (const id of ["out-a", "out-b", "out-c", "out-d"]) {
      expect(
        (await cni("CHECK", id, net({}, { prevResult: { cniVersion: "1.1.0", ips: [] } }))).code,
      ).toBe(3);
    }
  }, 120_000);

  it("answers an unknown purpose with 7 naming the known ones, and a purpose off this node's path with 101", async () => {
    const typo = await cni("ADD", "typo-a", net({ purpose: "storge" }));
    expect(typo.code).toBe(7);
    expect(typo.out.msg).toContain(
      "unknown purpose storge: no subnet of the topology has it (purposes: default, management, storage)",
    );
    const typoStatus = await cni("STATUS", "", net({ purpose: "storge" }));
    expect(typoStatus.code).toBe(7);
    const elsewhere = await cni("ADD", "far-a", net({ purpose: "storage" }));
    expect(elsewhere.code).toBe(101);
    expect(elsewhere.out.msg).toContain("has no IPv4 storage subnet");
    // STATUS for it says ADD cannot succeed.
    expect((await cni("STATUS", "", net({ purpose: "storage" }))).code).toBe(50);
  }, 120_000);

  it("STATUS exits 50 once a purpose is full, naming it, while other purposes stay ready", async () => {
    const mgmt = net({ purpose: "management" });
    expect((await cni("STATUS", "", mgmt)).code).toBe(0);
    // Five addresses in 10.99.1.0/29; the earlier test holds 10.99.1.4.
    let added = 0;
    for (let i = 0; ; i++) {
      const r = await cni("ADD", `fill-${i}`, mgmt);
      if (r.code !== 0) {
        expect(r.code).toBe(11);
        break;
      }
      added++;
      expect(i).toBeLessThan(10);
    }
    expect(added).toBe(4);
    const full = await cni("STATUS", "", mgmt);
    expect(full.code).toBe(50);
    expect(full.out.msg).toContain("IPv4 management");
    // The IPv6 management subnet and the default purpose can still serve ADD.
    expect((await cni("STATUS", "", net({ purpose: "management", families: ["ipv6"] }))).code).toBe(
      0,
    );
    expect((await cni("STATUS", "", net({ families: ["ipv4", "ipv6"] }))).code).toBe(0);
    // Dual-stack management needs IPv4 too: 50.
    expect(
      (await cni("STATUS", "", net({ purpose: "management", families: ["ipv4", "ipv6"] }))).code,
    ).toBe(50);
  }, 120_000);
});
