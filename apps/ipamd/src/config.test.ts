import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { helpText, loadConfig, OPTIONS } from "./config.js";

const base = { env: {}, isRoot: false, hostname: "host-1" } as const;

describe("loadConfig", () => {
  it("defaults to the embedded single node", () => {
    const c = loadConfig({ ...base, argv: [], env: { HOME: "/home/u" } });
    expect(c.role).toBe("all");
    expect(c.nodeId).toBe("host-1");
    expect(c.dataDir).toBe("/home/u/.local/state/ipamd");
    expect(c.unixSocket).toBe("/home/u/.local/state/ipamd/ipamd.sock");
    expect(c.grpcAddr).toEqual({ host: "127.0.0.1", port: 7400 });
    expect(c.metricsAddr).toEqual({ host: "127.0.0.1", port: 9400 });
    expect(c.bootstrap).toBe(true);
    expect(c.enableStore).toBe(true);
  });

  it("uses root paths as root and XDG_STATE_HOME otherwise", () => {
    expect(loadConfig({ ...base, argv: [], isRoot: true }).unixSocket).toBe(
      "/run/ipamd/ipamd.sock",
    );
    expect(loadConfig({ ...base, argv: [], env: { XDG_STATE_HOME: "/x" } }).dataDir).toBe(
      "/x/ipamd",
    );
  });

  it("ranks flags over env over file", () => {
    const dir = mkdtempSync(join(tmpdir(), "ipamd-config-"));
    const file = join(dir, "ipamd.yaml");
    writeFileSync(file, "node-id: from-file\nlog-level: debug\nmetrics-addr: off\n");
    const env = { IPAMD_NODE_ID: "from-env", IPAMD_CONFIG: file };
    expect(loadConfig({ ...base, argv: [], env }).nodeId).toBe("from-env");
    expect(loadConfig({ ...base, argv: ["--node-id", "flag"], env }).nodeId).toBe("flag");
    const c = loadConfig({ ...base, argv: [], env });
    expect(c.logLevel).toBe("debug");
    expect(c.metricsAddr).toBeUndefined();
  });

  it("names the setting in validation errors", () => {
    expect(() => loadConfig({ ...base, argv: ["--grpc-addr", "x"] })).toThrow(
      '--grpc-addr: "x" is not host:port',
    );
    expect(() => loadConfig({ ...base, argv: ["--role", "boss"] })).toThrow("--role:");
    expect(() => loadConfig({ ...base, argv: ["--role", "agent"] })).toThrow("--servers:");
    expect(() => loadConfig({ ...base, argv: [], env: { IPAMD_ELECTION_MS: "abc" } })).toThrow(
      "--election-ms:",
    );
  });

  it("reads --history-retention as a duration, 30 days by default", () => {
    expect(loadConfig({ ...base, argv: [] }).historyRetentionMs).toBe(30 * 86_400_000);
    expect(loadConfig({ ...base, argv: ["--history-retention", "12h"] }).historyRetentionMs).toBe(
      12 * 3_600_000,
    );
    expect(() => loadConfig({ ...base, argv: ["--history-retention", "30"] })).toThrow(
      '--history-retention: "30" is not a duration',
    );
    expect(() => loadConfig({ ...base, argv: ["--history-retention", "10ms"] })).toThrow(
      "--history-retention:",
    );
  });

  it("writes pretty logs to a terminal and JSON elsewhere unless --log-format says", () => {
    expect(loadConfig({ ...base, argv: [], stderrIsTty: true }).logFormat).toBe("pretty");
    expect(loadConfig({ ...base, argv: [], stderrIsTty: false }).logFormat).toBe("json");
    expect(
      loadConfig({ ...base, argv: ["--log-format", "json"], stderrIsTty: true }).logFormat,
    ).toBe("json");
    expect(
      loadConfig({ ...base, argv: [], env: { IPAMD_LOG_FORMAT: "pretty" }, stderrIsTty: false })
        .logFormat,
    ).toBe("pretty");
    expect(() => loadConfig({ ...base, argv: ["--log-format", "xml"] })).toThrow(
      '--log-format: "xml" is not json or pretty',
    );
  });

  it("uses V8's default heap unless --heap compact says, and refuses an unknown mode", () => {
    const server = ["--role", "server", "--bootstrap", "--insecure"];
    expect(loadConfig({ ...base, argv: server }).heap).toBe("fast");
    expect(loadConfig({ ...base, argv: [...server, "--heap", "compact"] }).heap).toBe("compact");
    expect(loadConfig({ ...base, argv: [], env: { IPAMD_HEAP: "compact" } }).heap).toBe("compact");
    expect(() => loadConfig({ ...base, argv: ["--heap", "small"] })).toThrow(
      '--heap: "small" is not compact or fast',
    );
  });

  it("refuses a cleartext non-loopback listener naming the flags, unless --insecure or TLS", () => {
    const server = ["--role", "server", "--bootstrap"];
    expect(() => loadConfig({ ...base, argv: server })).toThrow(
      /--grpc-addr: 0\.0\.0\.0 is not a loopback address .*--tls-cert and --tls-key .*--tls-ca.*--insecure/,
    );
    expect(loadConfig({ ...base, argv: [...server, "--insecure"] }).insecure).toBe(true);
    const tls = ["--tls-cert", "c.pem", "--tls-key", "k.pem"];
    expect(loadConfig({ ...base, argv: [...server, ...tls] }).tlsCert).toBe("c.pem");
    // An agent has no TCP listener.
    expect(loadConfig({ ...base, argv: ["--role", "agent", "--servers", "s:1"] }).role).toBe(
      "agent",
    );
  });

  it("reads identity rules from --tls-trust-domain and --tls-role-ous, naming a bad one", () => {
    const c = loadConfig({
      ...base,
      argv: ["--tls-trust-domain", "ipam.example", "--tls-role-ous", "node=ipam-nodes"],
    });
    expect(c.tlsIdentities).toEqual({
      trustDomain: "ipam.example",
      roleOus: { server: "server", node: "ipam-nodes", operator: "operator" },
    });
    expect(() => loadConfig({ ...base, argv: ["--tls-role-ous", "admin=x"] })).toThrow(
      '--tls-role-ous: "admin=x" is not role=OU',
    );
  });

  it("documents every option in --help", () => {
    const text = helpText();
    for (const name of Object.keys(OPTIONS)) expect(text).toContain(`--${name}`);
  });
});
