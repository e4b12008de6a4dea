import { readFileSync, writeFileSync } from "node:fs";
import pino from "pino";
import {
  exportEtcdState,
  exportRaftState,
  importEtcdState,
  importRaftState,
  type StateSummary,
} from "./cluster/state-transfer.js";
import { type IpamdConfig, loadConfig } from "./config.js";
import { EtcdKeys } from "./etcd/etcd-keys.js";
import { createEtcdClient } from "./etcd-config.js";
import { IpamdError } from "./ipamd-error.js";

export const STATE_USAGE = [
  "Usage: ipamd state export --cluster-store raft --data-dir DIR --out FILE",
  "       ipamd state export --cluster-store etcd --etcd-endpoints E [--etcd-prefix P] --out FILE",
  "       ipamd state import --cluster-store etcd --etcd-endpoints E [--etcd-prefix P] --in FILE",
  "       ipamd state import --cluster-store raft --data-dir DIR --node-id ID --advertise-addr HOST:PORT --in FILE",
  "  Moves the cluster state between stores (a ClusterState snapshot file). Raft data dirs are",
  "  read and written with the servers stopped; an etcd prefix is read live and imported into",
  "  only while unused. The --etcd-* flags (TLS, auth) are the server's. See docs/etcd.md.",
  "",
].join("\n");

/** `--in`/`--out` and the daemon flags they come with. */
function split(argv: readonly string[]): { file: Record<string, string>; rest: string[] } {
  const file: Record<string, string> = {};
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const m = /^--(in|out)(?:=(.*))?$/.exec(a);
    if (m === null) {
      rest.push(a);
      continue;
    }
    const value = m[2] ?? argv[++i];
    if (value === undefined || value === "") {
      throw new IpamdError("INVALID_ARGUMENT", `--${m[1]}: needs a file name`);
    }
    file[m[1] as string] = value;
  }
  return { file, rest };
}

async function run(
  command: string,
  argv: readonly string[],
): Promise<StateSummary & { store: string; file: string }> {
  const { file, rest } = split(argv);
  // The state commands open no listener: a loopback --grpc-addr keeps the server settings'
  // cleartext-listener refusal out of their way (a --grpc-addr in `rest` still wins).
  const config: IpamdConfig = loadConfig({
    argv: ["--role", "server", "--grpc-addr", "127.0.0.1:7400", ...rest],
    env: process.env,
  });
  const log = pino({ level: "warn" }, pino.destination({ dest: 2, sync: true }));
  const store = config.clusterStore;
  const dataDirGiven = rest.some((a) => a === "--data-dir" || a.startsWith("--data-dir="));
  if (command === "export") {
    const out = file.out;
    if (out === undefined)
      throw new IpamdError("INVALID_ARGUMENT", "--out: required (the file to write)");
    let result: { data: Uint8Array; summary: StateSummary };
    if (store === "raft") {
      if (!dataDirGiven)
        throw new IpamdError(
          "INVALID_ARGUMENT",
          "--data-dir: required (a stopped Raft server's data dir)",
        );
      result = exportRaftState(config.dataDir);
    } else {
      const etcd = config.etcd as NonNullable<IpamdConfig["etcd"]>;
      const client = createEtcdClient(etcd);
      try {
        result = await exportEtcdState(client, new EtcdKeys(etcd.prefix), log);
      } finally {
        client.close();
      }
    }
    writeFileSync(out, result.data, { mode: 0o600 });
    return { store, file: out, ...result.summary };
  }
  const input = file.in;
  if (input === undefined)
    throw new IpamdError(
      "INVALID_ARGUMENT",
      "--in: required (a file written by ipamd state export)",
    );
  let data: Uint8Array;
  try {
    data = readFileSync(input);
  } catch (cause) {
    throw new IpamdError("INVALID_ARGUMENT", `--in: cannot read ${input}`, { cause });
  }
  if (store === "raft") {
    if (!dataDirGiven)
      throw new IpamdError(
        "INVALID_ARGUMENT",
        "--data-dir: required (the new server's empty data dir)",
      );
    if (config.advertiseAddr === undefined) {
      throw new IpamdError(
        "INVALID_ARGUMENT",
        "--advertise-addr: required (the address the new server will be reached at)",
      );
    }
    const summary = importRaftState(config.dataDir, config.nodeId, config.advertiseAddr, data);
    return { store, file: input, ...summary };
  }
  const etcd = config.etcd as NonNullable<IpamdConfig["etcd"]>;
  const client = createEtcdClient(etcd);
  try {
    const summary = await importEtcdState(client, new EtcdKeys(etcd.prefix), data, config.nodeId);
    return { store, file: input, ...summary };
  } finally {
    client.close();
  }
}

/**
 * `ipamd state export|import`: moves the cluster state between the Raft and the etcd store.
 * Prints a JSON summary to stdout; resolves with the exit code (1 when it failed, 2 on bad
 * arguments).
 */
export async function runStateCommand(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== "export" && command !== "import") {
    process.stderr.write(`ipamd state: unknown command "${command ?? ""}"\n${STATE_USAGE}`);
    return 2;
  }
  try {
    const result = await run(command, rest);
    process.stdout.write(
      `${JSON.stringify({ [command === "export" ? "exported" : "imported"]: result })}\n`,
    );
    return 0;
  } catch (err) {
    process.stderr.write(`ipamd state ${command}: ${(err as Error).message}\n`);
    return (err as { code?: unknown }).code === "INVALID_ARGUMENT" ? 2 : 1;
  }
}
