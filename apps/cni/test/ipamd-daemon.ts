// A real ipamd (role all, durable store) in its own process for the end-to-end tests: its own data
// folder, unix socket and topology, stopped with SIGTERM (SIGKILL after 10 s). IPAMD_CNI_E2E_SERVER
// replaces the daemon with another command that takes the socket path as its last argument (e.g.
// the in-memory stand-in: `node --import tsx test/serve-test-ipam.ts`).
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const IPAMD = fileURLToPath(new URL("../../ipamd/dist/main.js", import.meta.url));

export interface IpamdDaemonOptions {
  /** A private folder: the data dir, the socket (`ipamd.sock`) and the topology go in it. */
  readonly dir: string;
  /** Topology YAML (one TOR named by `tor`). */
  readonly topology: string;
  readonly tor: string;
  readonly nodeId: string;
  /** Polled every 100 ms until it returns true: the daemon can allocate. */
  readonly isReady: () => boolean;
}

export interface IpamdDaemon {
  readonly socketPath: string;
  /** SIGTERM, then SIGKILL after 10 s; resolves when the process has exited. */
  stop(): Promise<void>;
}

/** Starts the daemon and resolves once `isReady` says so (120 s deadline: busy machines). */
export async function startIpamd(options: IpamdDaemonOptions): Promise<IpamdDaemon> {
  const socketPath = join(options.dir, "ipamd.sock");
  let server: ChildProcess;
  const custom = process.env.IPAMD_CNI_E2E_SERVER;
  if (custom) {
    server = spawn("sh", ["-c", `${custom} "$0"`, socketPath], { stdio: "inherit" });
  } else {
    if (!existsSync(IPAMD)) throw new Error(`${IPAMD} missing: build @ipam/ipamd first`);
    const topology = join(options.dir, "topology.yaml");
    writeFileSync(topology, options.topology);
    server = spawn(
      process.execPath,
      [
        IPAMD,
        ...["--data-dir", join(options.dir, "data"), "--unix-socket", socketPath],
        ...["--grpc-addr", "127.0.0.1:0", "--metrics-addr", "off", "--log-level", "warn"],
        ...["--node-id", options.nodeId, "--tor", options.tor, "--topology", topology],
      ],
      { stdio: ["ignore", "inherit", "inherit"] },
    );
  }
  const stop = async () => {
    if (server.pid === undefined || server.exitCode !== null || server.signalCode !== null) return;
    const exited = new Promise((r) => server.once("exit", r));
    process.kill(server.pid, "SIGTERM");
    const timer = setTimeout(() => server.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`ipamd exited with ${server.exitCode}`);
    if (existsSync(socketPath) && options.isReady()) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error("ipamd did not become ready in 120 s");
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { socketPath, stop };
}
