import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.js";

const base = { env: {}, isRoot: false, hostname: "host-1" } as const;
const etcd = (...argv: string[]) =>
  loadConfig({
    ...base,
    // A loopback listener: these tests are about the etcd settings, not cleartext refusal.
    argv: ["--role", "server", "--grpc-addr", "127.0.0.1:7400", "--cluster-store", "etcd", ...argv],
  });

describe("--cluster-store etcd settings", () => {
  it("defaults to raft, and to /ipamd/<cluster-name> as the prefix", () => {
    expect(loadConfig({ ...base, argv: [] }).clusterStore).toBe("raft");
    expect(loadConfig({ ...base, argv: [] }).etcd).toBeUndefined();
    const c = etcd("--etcd-endpoints", "10.0.0.1:2379,http://10.0.0.2:2379");
    expect(c.etcd).toMatchObject({
      endpoints: ["10.0.0.1:2379", "10.0.0.2:2379"],
      tls: false,
      prefix: "/ipamd/default",
      snapshotEntries: 10_000,
      compaction: true,
      logRetentionMs: 120_000,
      startTimeoutMs: 60_000,
    });
    expect(etcd("--etcd-endpoints", "e:2379", "--cluster-name", "eu1").etcd?.prefix).toBe(
      "/ipamd/eu1",
    );
    expect(etcd("--etcd-endpoints", "e:2379", "--etcd-prefix", "/x/y/").etcd?.prefix).toBe("/x/y");
  });

  it("uses TLS for https:// endpoints or any --etcd-tls-* flag", () => {
    expect(etcd("--etcd-endpoints", "https://e1:2379").etcd?.tls).toBe(true);
    expect(etcd("--etcd-endpoints", "e1:2379", "--etcd-tls-ca", "/ca.pem").etcd?.tls).toBe(true);
  });

  it("reads the password from a file, and refuses half-given credentials", () => {
    const dir = mkdtempSync(join(tmpdir(), "ipamd-etcd-config-"));
    const file = join(dir, "pw");
    writeFileSync(file, "s3cret\n");
    const c = etcd(
      "--etcd-endpoints",
      "e:2379",
      "--etcd-username",
      "ipamd",
      "--etcd-password-file",
      file,
    );
    expect(c.etcd).toMatchObject({ username: "ipamd", password: "s3cret" });
    const env = loadConfig({
      ...base,
      argv: [
        "--role",
        "server",
        "--grpc-addr",
        "127.0.0.1:7400",
        "--cluster-store",
        "etcd",
        "--etcd-endpoints",
        "e:2379",
        "--etcd-username",
        "u",
      ],
      env: { IPAMD_ETCD_PASSWORD: "from-env" },
    });
    expect(env.etcd?.password).toBe("from-env");
    expect(() => etcd("--etcd-endpoints", "e:2379", "--etcd-username", "u")).toThrow(
      "--etcd-password:",
    );
    expect(() => etcd("--etcd-endpoints", "e:2379", "--etcd-password", "p")).toThrow(
      "--etcd-username:",
    );
    expect(() =>
      etcd(
        "--etcd-endpoints",
        "e:2379",
        "--etcd-username",
        "u",
        "--etcd-password-file",
        join(dir, "none"),
      ),
    ).toThrow("--etcd-password-file: cannot read");
  });

  it("names the flag and the fix for bad values", () => {
    expect(() => etcd()).toThrow("--etcd-endpoints: required with --cluster-store etcd");
    expect(() => etcd("--etcd-endpoints", "e")).toThrow(
      '--etcd-endpoints: "e" is not [http(s)://]host:port',
    );
    expect(() => etcd("--etcd-endpoints", "http://a:1,https://b:2")).toThrow(
      "mixes http:// and https://",
    );
    expect(() => etcd("--etcd-endpoints", "http://a:1", "--etcd-tls-ca", "/ca")).toThrow(
      "use https://",
    );
    expect(() => etcd("--etcd-endpoints", "a:1", "--etcd-tls-cert", "/c")).toThrow(
      "--etcd-tls-key:",
    );
    expect(() => etcd("--etcd-endpoints", "a:1", "--etcd-prefix", "ipamd")).toThrow(
      "--etcd-prefix:",
    );
    expect(() => etcd("--etcd-endpoints", "a:1", "--etcd-log-retention", "5")).toThrow(
      "--etcd-log-retention:",
    );
    expect(() => loadConfig({ ...base, argv: ["--cluster-store", "zk"] })).toThrow(
      '--cluster-store: "zk" is not raft or etcd',
    );
    expect(() =>
      loadConfig({
        ...base,
        argv: ["--role", "agent", "--servers", "s:1", "--cluster-store", "etcd"],
      }),
    ).toThrow("--cluster-store: agents do not hold the cluster state");
  });
});
