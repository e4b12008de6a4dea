import type { ClusterClient, IpamClient } from "@ipam/grpc-server";
import type { ExitCode } from "./exit-codes.js";
import type { CliIo } from "./io.js";
import type { Output } from "./output.js";

/** A node agent ipamctl can read from: its address (`unix:PATH` or `HOST:PORT`) and a client. */
export interface AgentLink {
  readonly address: string;
  /** The node it serves when given as `--node NODE=ADDR` (its Status says it otherwise). */
  readonly nodeId?: string;
  readonly client: IpamClient;
}

/**
 * What a command group's `register(program, context)` gets. Everything is created on first use
 * from the global options (so `--help` dials nothing) and closed when the command ends.
 */
export interface CommandContext {
  readonly io: CliIo;
  /** The printer for `--json` or people. */
  output(): Output;
  /** A client of the cluster's servers (`--server`, TLS flags, `--timeout`). */
  cluster(): ClusterClient;
  /** Clients of the node agents `--node` and `--unix-socket` name, in that order. */
  agents(): readonly AgentLink[];
  /** The per-call deadline (`--timeout`), ms. */
  timeoutMs(): number;
  /**
   * The exit status of a command that printed its result but must not end with 0 (`check`
   * found problems: EXIT.PROBLEMS). A thrown error sets its own status instead.
   */
  setExitCode(code: ExitCode): void;
}
