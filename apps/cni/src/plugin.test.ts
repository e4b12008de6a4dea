import { describe, expect, it } from "vitest";
import { createFakeBackend } from "../test/fake-backend.js";
import type { IpamBackend } from "./backend.js";
import { runPlugin } from "./plugin.js";

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

const ENV = {
  CNI_CONTAINERID: "ctr1",
  CNI_NETNS: "/var/run/netns/x",
  CNI_IFNAME: "eth0",
  CNI_PATH: "/opt/cni/bin",
};

function conf(extra: Record<string, unknown> = {}, ipam: Record<string, unknown> = {}) {
  return {
    cniVersion: "1.1.0",
    name: "net1",
    type: "bridge",
    ipam: { type: "ipamd-cni", ...ipam },
    ...extra,
  };
}

async function run(
  command: string,
  config: unknown,
  backend: IpamBackend,
  env: Record<string, string> = {},
) {
  const stdout = sink();
  const stderr = sink();
  const code = await runPlugin({
    env: { ...ENV, CNI_COMMAND: command, ...env },
    stdin: typeof config === "string" ? config : JSON.stringify(config),
    stdout,
    stderr,
    backend,
  });
  return {
    code,
    out: stdout.text === "" ? undefined : JSON.parse(stdout.text),
    stderr: stderr.text,
  };
}

describe("runPlugin", () => {
  it("ADD returns a 1.1.0 result without per-IP version and is idempotent", async () => {
    const b = createFakeBackend();
    const first = await run("ADD", conf({}, { families: ["ipv4", "ipv6"] }), b);
    expect(first.code).toBe(0);
    expect(first.out).toEqual({
      cniVersion: "1.1.0",
      ips: [
        { address: "10.99.0.2/24", gateway: "10.99.0.1" },
        { address: "fd99::2/64", gateway: "fd99::1" },
      ],
      routes: [{ dst: "0.0.0.0/0" }],
      dns: { nameservers: ["10.99.0.53"] },
    });
    const again = await run("ADD", conf({}, { families: ["ipv4", "ipv6"] }), b);
    expect(again.out).toEqual(first.out);
    expect(first.stderr).toBe("");
  });

  it.each(["0.3.0", "0.3.1", "0.4.0"])("ADD %s carries version per IP", async (v) => {
    const r = await run("ADD", conf({ cniVersion: v }), createFakeBackend());
    expect(r.out.cniVersion).toBe(v);
    expect(r.out.ips).toEqual([{ version: "4", address: "10.99.0.2/24", gateway: "10.99.0.1" }]);
  });

  it("1.0.0 drops 1.1 route attributes; 1.1.0 keeps them", async () => {
    const ipam = { routes: [{ dst: "10.0.0.0/8", gw: "10.99.0.254", mtu: 1400 }] };
    const old = await run("ADD", conf({ cniVersion: "1.0.0" }, ipam), createFakeBackend());
    expect(old.out.routes).toContainEqual({ dst: "10.0.0.0/8", gw: "10.99.0.254" });
    const cur = await run("ADD", conf({}, ipam), createFakeBackend());
    expect(cur.out.routes).toContainEqual({ dst: "10.0.0.0/8", gw: "10.99.0.254", mtu: 1400 });
  });

  it("negotiates the highest supported version from cniVersions", async () => {
    const r = await run(
      "ADD",
      { ...conf(), cniVersion: undefined, cniVersions: ["0.4.0", "1.0.0", "9.9.9"] },
      createFakeBackend(),
    );
    expect(r.out.cniVersion).toBe("1.0.0");
  });

  it("VERSION lists the supported versions", async () => {
    const r = await run("VERSION", "", createFakeBackend());
    expect(r).toMatchObject({
      code: 0,
      out: {
        cniVersion: "1.1.0",
        supportedVersions: ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"],
      },
    });
  });

  it("passes requested static addresses and pod identity", async () => {
    const b = createFakeBackend();
    const r = await run("ADD", conf({ runtimeConfig: { ips: ["10.99.0.77/24"] } }), b, {
      CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;FOO=1",
    });
    expect(r.out.ips[0].address).toBe("10.99.0.77/24");
  });

  it("DEL frees the key and succeeds when nothing is held or netns is gone", async () => {
    const b = createFakeBackend();
    await run("ADD", conf(), b);
    expect((await run("DEL", conf(), b, { CNI_NETNS: "" })).code).toBe(0);
    expect(b.records.size).toBe(0);
    const again = await run("DEL", conf(), b);
    expect(again).toMatchObject({ code: 0, out: undefined });
  });

  it("CHECK compares with prevResult: 0, 3 unknown container, 104 mismatch", async () => {
    const b = createFakeBackend();
    const add = await run("ADD", conf(), b);
    expect((await run("CHECK", conf({ prevResult: add.out }), b)).code).toBe(0);
    const wrong = { ...add.out, ips: [{ address: "10.99.0.200/24" }] };
    expect((await run("CHECK", conf({ prevResult: wrong }), b)).out.code).toBe(104);
    expect(
      (await run("CHECK", conf({ prevResult: add.out }), b, { CNI_CONTAINERID: "other" })).code,
    ).toBe(3);
    expect((await run("CHECK", conf({ cniVersion: "0.3.1", prevResult: add.out }), b)).code).toBe(
      1,
    );
  });

  it("GC releases attachments not listed as valid", async () => {
    const b = createFakeBackend();
    await run("ADD", conf(), b, { CNI_CONTAINERID: "keep" });
    await run("ADD", conf(), b, { CNI_CONTAINERID: "gone" });
    const r = await run(
      "GC",
      conf({ "cni.dev/valid-attachments": [{ containerID: "keep", ifname: "eth0" }] }),
      b,
      { CNI_CONTAINERID: "" },
    );
    expect(r).toMatchObject({ code: 0, out: undefined });
    expect([...b.records.keys()]).toEqual(["net1/keep/eth0"]);
    expect((await run("GC", conf(), b)).code).toBe(7);
    expect(
      (await run("GC", conf({ cniVersion: "1.0.0", "cni.dev/valid-attachments": [] }), b)).code,
    ).toBe(1);
  });

  it("STATUS: 0 ready, 50 exhausted or unreachable, 51 unavailable", async () => {
    expect((await run("STATUS", conf(), createFakeBackend())).code).toBe(0);
    expect((await run("STATUS", conf(), createFakeBackend({ state: "exhausted" }))).out.code).toBe(
      50,
    );
    expect((await run("STATUS", conf(), createFakeBackend({ failWith: "UNAVAILABLE" }))).code).toBe(
      50,
    );
    expect((await run("STATUS", conf(), createFakeBackend({ state: "unavailable" }))).code).toBe(
      51,
    );
  });

  it.each([
    ["POOL_EXHAUSTED", 11],
    ["TIMEOUT", 11],
    ["UNAVAILABLE", 11],
    ["NOT_FOUND", 101],
    ["CONFLICT", 102],
    ["INTERNAL", 100],
  ] as const)("backend %s becomes CNI code %i", async (failWith, code) => {
    const r = await run("ADD", conf(), createFakeBackend({ failWith }));
    expect(r.code).toBe(code);
    expect(r.out).toMatchObject({ cniVersion: "1.1.0", code });
    expect(typeof r.out.msg).toBe("string");
    expect(typeof r.out.details).toBe("string");
  });

  it("reports spec errors: 1, 2, 4, 6, 7", async () => {
    const b = createFakeBackend();
    expect((await run("ADD", conf({ cniVersion: "0.2.0" }), b)).code).toBe(1);
    const typo = await run("ADD", conf({}, { famlies: ["ipv4"] }), b);
    expect(typo.out.code).toBe(2);
    expect(typo.out.msg).toContain("ipam.famlies");
    expect((await run("ADD", conf(), b, { CNI_IFNAME: "" })).code).toBe(4);
    expect((await run("ADD", conf(), b, { CNI_ARGS: "FOO=1" })).code).toBe(4);
    expect((await run("BOGUS", conf(), b)).code).toBe(4);
    expect((await run("ADD", "{not json", b)).code).toBe(6);
    const bad = await run("ADD", conf({}, { families: ["ipv5"] }), b);
    expect(bad.out).toMatchObject({ code: 7 });
    expect(bad.out.msg).toContain("ipam.families[0]");
    const ip = await run("ADD", conf({ args: { cni: { ips: ["fd99::9"] } } }), b);
    expect(ip.out.msg).toContain("args.cni.ips[0]");
    expect(b.calls).toEqual([]);
  });

  it("writes debug lines to stderr only when asked", async () => {
    const r = await run("ADD", conf(), createFakeBackend(), { IPAMD_CNI_DEBUG: "1" });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('"level":"debug"');
  });
});
