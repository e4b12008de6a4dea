// Public API of ipamctl: name every export explicitly (no `export *`).
export { CliError, exitCodeOf, usageError } from "./cli-error.js";
export type { AgentLink, CommandContext } from "./context.js";
export type { ExitCode } from "./exit-codes.js";
export { EXIT } from "./exit-codes.js";
export type { CliIo } from "./io.js";
export { processIo } from "./io.js";
export type { Colors, Output } from "./output.js";
export { API_VERSION, bar, colourWanted, createOutput, table } from "./output.js";
export { buildProgram, COMMAND_GROUPS, VERSION } from "./program.js";
export type { IpamctlDeps } from "./run.js";
export { runIpamctl } from "./run.js";
