import { statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type createIpamClient, ReadyState } from "@ipam/grpc-server";

function defaultSocket(env: NodeJS.ProcessEnv): string {
  if (env.IPAMD_UNIX_SOCKET !== undefined) return env.IPAMD_UNIX_SOCKET;
  if (process.getuid?.() === 0) return "/run/ipamd/ipamd.sock";
  const dataDir =
    env.IPAMD_DATA_DIR ??
    (env.XDG_STATE_HOME
      ? join(env.XDG_STATE_HOME, "ipamd")
      : join(env.HOME ?? homedir(), ".local", "state", "ipamd"));
  return join(dataDir, "ipamd.sock");
}

/**
 * Why the daemon could not be reached on `socket`, said for a person: which socket was tried
 * (and where that path came from), whether anything is there, and how to point at another one.
 */
function unreachable(socket: string, fromFlag: boolean): string {
  const source = fromFlag
    ? "--unix-socket"
    : process.env.IPAMD_UNIX_SOCKET !== undefined
      ? "IPAMD_UNIX_SOCKET"
      : "the default (no --unix-socket given)";
  let state: string;
  try {
    state = statSync(socket).isSocket()
      ? "the socket exists but nothing answers on it: ipamd is not running (a socket left behind by a killed ipamd) or is stopping"
      : "that path exists but is not a socket";
  } catch {
    state = "no socket there: ipamd is not running with this socket";
  }
  return `cannot reach ipamd on unix:${socket} (from ${source}): ${state}. Start ipamd, or give --unix-socket (or IPAMD_UNIX_SOCKET) with the socket it serves (ipamd logs it at start: "ready: Ipam API on unix:...").`;
}

/**
 * `ipamd allocate|release|status`: a small client of the Ipam API on the unix socket. Prints
 * JSON to stdout; resolves with the exit code (1 on a failed call, 2 on bad arguments).
 */
export async function runClientCommand(
  command: "allocate" | "release" | "status",
  argv: readonly string[],
  makeClient: typeof createIpamClient,
): Promise<number> {
  let values: Record<string, string | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        "unix-socket": { type: "string" },
        network: { type: "string" },
        container: { type: "string" },
        ifname: { type: "string" },
        purpose: { type: "string" },
      },
    }).values;
  } catch (err) {
    process.stderr.write(`ipamd ${command}: ${(err as Error).message}\n`);
    return 2;
  }
  const socket = values["unix-socket"] ?? defaultSocket(process.env);
  const client = makeClient({ addresses: [`unix:${socket}`], deadlineMs: 10_000 });
  try {
    if (command === "status") {
      const r = await client.status({});
      process.stdout.write(
        `${JSON.stringify({ state: ReadyState[r.state], reason: r.reason, nodeId: r.nodeId })}\n`,
      );
      return r.state === ReadyState.READY ? 0 : 1;
    }
    if (values.network === undefined || values.container === undefined) {
      process.stderr.write(`ipamd ${command}: --network and --container are required\n`);
      return 2;
    }
    const key = {
      network: values.network,
      containerId: values.container,
      ifname: values.ifname ?? "eth0",
    };
    if (command === "allocate") {
      const r = await client.allocate({ ...key, purpose: values.purpose ?? "" });
      const out = r.addresses.map((a) => ({
        address: `${a.address}/${a.prefixLength}`,
        gateway: a.gateway,
        subnet: a.subnetId,
        block: a.blockCidr,
      }));
      process.stdout.write(`${JSON.stringify({ addresses: out })}\n`);
    } else {
      const r = await client.release(key);
      process.stdout.write(`${JSON.stringify({ released: r.released, addresses: r.addresses })}\n`);
    }
    return 0;
  } catch (err) {
    const message =
      (err as { code?: unknown }).code === "UNAVAILABLE"
        ? unreachable(socket, values["unix-socket"] !== undefined)
        : (err as Error).message;
    process.stderr.write(`ipamd ${command}: ${message}\n`);
    return 1;
  } finally {
    client.close();
  }
}
