import { setFlagsFromString } from "node:v8";
import { createClusterClient, createIpamClient } from "@ipam/grpc-server";
import pino, { type Logger } from "pino";
import { runClientCommand } from "./client-commands.js";
import { runClusterCommand } from "./cluster-commands.js";
import { helpText, type IpamdConfig, loadConfig } from "./config.js";
import { VERSION } from "./daemon-kit.js";
import { installLastResort } from "./last-resort.js";
import { prettyDestination } from "./log-pretty.js";
import { runAgent } from "./role-agent.js";
import { runAll } from "./role-all.js";
import { runServer } from "./role-server.js";
import { runEtcdServer } from "./role-server-etcd.js";
import { runStateCommand } from "./state-commands.js";

/** Runs the daemon in its role until a signal; resolves with the exit code. */
function runDaemon(config: IpamdConfig, log: Logger): Promise<number> {
  if (config.role === "agent") return runAgent(config, log);
  if (config.role === "server") {
    return config.clusterStore === "etcd" ? runEtcdServer(config, log) : runServer(config, log);
  }
  return runAll(config, log);
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(helpText());
    return 0;
  }
  if (argv.includes("--version")) {
    process.stdout.write(`ipamd ${VERSION}\n`);
    return 0;
  }
  const [first] = argv;
  if (first === "cluster") return runClusterCommand(argv.slice(1), createClusterClient);
  if (first === "state") return runStateCommand(argv.slice(1));
  if (first === "allocate" || first === "release" || first === "status") {
    return runClientCommand(first, argv.slice(1), createIpamClient);
  }
  let config: IpamdConfig;
  try {
    config = loadConfig({ argv, env: process.env });
  } catch (err) {
    process.stderr.write(`ipamd: ${(err as Error).message}\n`);
    return 2;
  }
  const log = pino(
    { level: config.logLevel, base: { node: config.nodeId } },
    config.logFormat === "pretty"
      ? prettyDestination(2, process.stderr.isTTY === true)
      : pino.destination({ dest: 2, sync: true }),
  );
  installLastResort({ log });
  // Before the state is built: V8 reads the flag when it sizes and grows the heap from now on.
  if (config.heap === "compact") setFlagsFromString("--optimize-for-size");
  try {
    return await runDaemon(config, log);
  } catch (err) {
    log.fatal({ err }, `cannot start: ${(err as Error).message}`);
    return 1;
  }
}

/**
 * How long a process that has finished (a start failure, a stop) may take to let its last
 * handles go before it is ended with its exit code. Every role closes what it opened on a failed
 * start; this bound keeps a handle that was missed from leaving a half-started daemon running.
 */
const EXIT_GRACE_MS = 2000;

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
  },
  (err: unknown) => {
    process.stderr.write(`ipamd: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
