import { CLIENT_TLS_FLAGS } from "@ipam/grpc-server";
import { Command, Option } from "commander";
import * as check from "./commands/check.js";
import * as cluster from "./commands/cluster.js";
import * as forecast from "./commands/forecast.js";
import * as history from "./commands/history.js";
import * as node from "./commands/node.js";
import * as release from "./commands/release.js";
import * as reserve from "./commands/reserve.js";
import * as show from "./commands/show.js";
import * as subnet from "./commands/subnet.js";
import type { CommandContext } from "./context.js";

/** The version printed by `ipamctl --version` (the package's, set at build). */
export const VERSION = "0.0.0";

/**
 * Every command group, in help order. A group is a module `src/commands/<group>.ts` exporting
 * `register(program, context)`: it adds its commands to `program` and reads connections and the
 * printer from `context` when an action runs (README, "Adding a command").
 */
export const COMMAND_GROUPS: readonly {
  readonly register: (program: Command, context: CommandContext) => void;
}[] = [show, check, release, subnet, reserve, node, history, forecast, cluster];

/** The collect function of a repeatable flag. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/**
 * The `ipamctl` program: global connection and output options, then every group's commands.
 * Parsing errors go through commander's exitOverride (the caller maps them to exit 2).
 */
export function buildProgram(context: CommandContext): Command {
  const env = context.io.env;
  /** An option whose default comes from an environment variable, as in ipamd. */
  const fromEnv = (option: Option, name: string, fallback?: string): Option => {
    const value = env[name] ?? fallback;
    const shown = fallback === undefined ? `$${name}` : `$${name} or ${fallback}`;
    return value === undefined || value === ""
      ? option.default(undefined, shown)
      : option.default(value, shown);
  };
  const program = new Command("ipamctl")
    .description("The operator's tool of an ipamd cluster: see, find, check, repair, drain.")
    .version(VERSION, "--version", "print the version")
    .showHelpAfterError("(add --help for usage)")
    .addOption(
      fromEnv(
        new Option("--server <host:port,...>", "the cluster's servers"),
        "IPAMD_SERVERS",
        "127.0.0.1:7400",
      ),
    )
    .addOption(
      fromEnv(
        new Option("--unix-socket <path>", "this machine's agent (node-local reads)"),
        "IPAMD_UNIX_SOCKET",
      ),
    )
    .addOption(
      new Option(
        "--node <addr>",
        "another node's agent, unix:PATH or HOST:PORT (repeat for several)",
      ).argParser(collect),
    );
  for (const [flag, spec] of Object.entries(CLIENT_TLS_FLAGS)) {
    const value = flag === "tls-server-name" ? "name" : "file";
    program.addOption(fromEnv(new Option(`--${flag} <${value}>`, spec.help), spec.env));
  }
  program
    .addOption(
      new Option("--timeout <seconds>", "deadline of each call, retries included").default("15"),
    )
    .addOption(new Option("--json", `print a versioned JSON document (apiVersion ipamctl/v1)`))
    .exitOverride()
    .configureOutput({
      writeOut: (s) => context.io.stdout.write(s),
      writeErr: (s) => context.io.stderr.write(s),
    });
  // Subcommands copy these settings when created: set them before the groups register.
  for (const group of COMMAND_GROUPS) group.register(program, context);
  return program;
}
