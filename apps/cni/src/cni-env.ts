import { CniError } from "./cni-error.js";

/** The verbs of CNI spec 1.1.0. */
export const CNI_COMMANDS = ["ADD", "DEL", "CHECK", "VERSION", "GC", "STATUS"] as const;

/** One of {@link CNI_COMMANDS}. */
export type CniCommand = (typeof CNI_COMMANDS)[number];

/** The environment a verb runs with, validated. */
export interface CniEnv {
  readonly command: CniCommand;
  /** `CNI_CONTAINERID`; empty for VERSION, GC and STATUS. */
  readonly containerId: string;
  /** `CNI_NETNS`; may be empty for DEL (the namespace may be gone). */
  readonly netns: string;
  /** `CNI_IFNAME`; empty for VERSION, GC and STATUS. */
  readonly ifname: string;
  /** `CNI_ARGS`, raw. */
  readonly args: string;
}

/** An environment as a plain map (`process.env` fits). */
export type EnvMap = Readonly<Record<string, string | undefined>>;

const REQUIRED: Readonly<Record<CniCommand, readonly string[]>> = {
  ADD: ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"],
  CHECK: ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"],
  DEL: ["CNI_CONTAINERID", "CNI_IFNAME"],
  VERSION: [],
  GC: [],
  STATUS: [],
};

const CONTAINER_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

function isCommand(value: string): value is CniCommand {
  return (CNI_COMMANDS as readonly string[]).includes(value);
}

/**
 * Read and validate the `CNI_*` variables for the requested verb. `CNI_PATH` is not required:
 * the plugin execs nothing.
 *
 * @throws CniError `INVALID_ENV` for a missing or unknown `CNI_COMMAND`, a missing variable the
 *   verb needs (all missing ones are named), a malformed container id or interface name.
 */
export function readCniEnv(env: EnvMap): CniEnv {
  const command = env.CNI_COMMAND ?? "";
  if (command === "")
    throw new CniError("INVALID_ENV", "required env variable CNI_COMMAND missing");
  if (!isCommand(command)) {
    throw new CniError("INVALID_ENV", `unknown CNI_COMMAND: ${command}`, {
      details: { supported: CNI_COMMANDS },
    });
  }
  const missing = REQUIRED[command].filter((name) => (env[name] ?? "") === "");
  if (missing.length > 0) {
    throw new CniError("INVALID_ENV", `required env variables [${missing.join(",")}] missing`, {
      details: { missing },
    });
  }
  const containerId = env.CNI_CONTAINERID ?? "";
  const ifname = env.CNI_IFNAME ?? "";
  if (REQUIRED[command].length > 0) {
    if (!CONTAINER_ID.test(containerId)) {
      throw new CniError(
        "INVALID_ENV",
        `CNI_CONTAINERID: ${JSON.stringify(containerId)} must start with a letter or digit followed by letters, digits, _ . -`,
      );
    }
    const problem = interfaceNameProblem(ifname);
    if (problem !== undefined) {
      throw new CniError("INVALID_ENV", `CNI_IFNAME: ${JSON.stringify(ifname)} ${problem}`);
    }
  }
  return { command, containerId, netns: env.CNI_NETNS ?? "", ifname, args: env.CNI_ARGS ?? "" };
}

/** Why `name` is not a Linux interface name, or undefined when it is one. */
function interfaceNameProblem(name: string): string | undefined {
  if (name.length > 15) return "is longer than 15 characters";
  if (name === "." || name === "..") return "is not an interface name";
  if (/[/:\s]/.test(name)) return "contains '/', ':' or whitespace";
  return undefined;
}
