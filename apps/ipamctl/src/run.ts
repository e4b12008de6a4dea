import { type ClusterClient, createClusterClient, createIpamClient } from "@ipam/grpc-server";
import { CommanderError } from "commander";
import { exitCodeOf } from "./cli-error.js";
import {
  agentTargets,
  attemptsWithin,
  type ConnectionFlags,
  clientTls,
  serverAddresses,
  timeoutMs,
} from "./connection.js";
import type { AgentLink, CommandContext } from "./context.js";
import { EXIT, type ExitCode } from "./exit-codes.js";
import { type CliIo, processIo } from "./io.js";
import { createOutput, type Output } from "./output.js";
import { buildProgram } from "./program.js";

/** The client factories ipamctl dials with: the real ones, or a test's. */
export interface IpamctlDeps {
  readonly createClusterClient: typeof createClusterClient;
  readonly createIpamClient: typeof createIpamClient;
}

const REAL_DEPS: IpamctlDeps = { createClusterClient, createIpamClient };

type GlobalFlags = ConnectionFlags & { readonly json?: boolean };

/** The servers (and agents) a command dials, for an error that none could be reached. */
function describeTargets(flags: GlobalFlags): string {
  const agents = [
    ...(flags.node ?? []),
    ...(flags.unixSocket === undefined ? [] : [`unix:${flags.unixSocket}`]),
  ];
  return `the servers ${flags.server}${agents.length === 0 ? "" : ` or the agents ${agents.join(", ")}`}`;
}

/**
 * Runs `ipamctl ARGV` in-process: parse, call, print. Resolves with the exit status (EXIT:
 * 0 ok, 1 error, 2 usage, 3 problems found, 4 unreachable, 5 refused, 6 not found); never
 * rejects. Every client it opened is closed before it resolves.
 */
export async function runIpamctl(
  argv: readonly string[],
  io: CliIo = processIo(),
  deps: IpamctlDeps = REAL_DEPS,
): Promise<number> {
  let cluster: ClusterClient | undefined;
  let agents: AgentLink[] | undefined;
  let output: Output | undefined;
  let commandName = "ipamctl";
  let exitCode: ExitCode = EXIT.OK;
  const flags = (): GlobalFlags => program.opts<GlobalFlags>();
  const context: CommandContext = {
    io,
    output() {
      output ??= createOutput(io, flags().json === true);
      return output;
    },
    timeoutMs: () => timeoutMs(flags()),
    setExitCode(code) {
      exitCode = code;
    },
    cluster() {
      if (cluster === undefined) {
        const f = flags();
        const tls = clientTls(f);
        cluster = deps.createClusterClient({
          addresses: serverAddresses(f),
          deadlineMs: timeoutMs(f),
          maxAttempts: attemptsWithin(timeoutMs(f)),
          ...(tls === undefined ? {} : { tls }),
        });
      }
      return cluster;
    },
    agents() {
      if (agents === undefined) {
        const f = flags();
        const tls = clientTls(f);
        const deadlineMs = timeoutMs(f);
        agents = agentTargets(f).map(
          (target): AgentLink => ({
            ...target,
            client: deps.createIpamClient({
              addresses: [target.address],
              deadlineMs,
              maxAttempts: attemptsWithin(deadlineMs),
              ...(tls === undefined ? {} : { tls }),
            }),
          }),
        );
      }
      return agents;
    },
  };
  const program = buildProgram(context);
  program.hook("preAction", (_root, action) => {
    commandName = `ipamctl ${action.name()}`;
    const parent = action.parent;
    if (parent !== null && parent !== program)
      commandName = `ipamctl ${parent.name()} ${action.name()}`;
  });
  try {
    await program.parseAsync([...argv], { from: "user" });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and --version end with 0; every parsing error (unknown flag or command, a missing
      // argument or value) is a usage error: commander already printed it, naming the flag.
      return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    const code = exitCodeOf(err);
    const message = (err as Error).message;
    const where =
      (err as { code?: unknown }).code === "UNAVAILABLE"
        ? `cannot reach ${describeTargets(flags())} (check the address, that ipamd runs there, and the TLS flags): `
        : "";
    io.stderr.write(`${commandName}: ${where}${message}\n`);
    return code;
  } finally {
    cluster?.close();
    for (const agent of agents ?? []) agent.client.close();
  }
}
