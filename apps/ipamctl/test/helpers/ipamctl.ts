// Running the built `ipamctl` executable (dist/main.js) as a real process, bounded in time.
import { fileURLToPath } from "node:url";
import { type CommandRun, runNodeScript } from "../../../ipamd/test/helpers/processes.js";

/** The built command's entry point. */
export const IPAMCTL_MAIN = fileURLToPath(new URL("../../dist/main.js", import.meta.url));

/**
 * The backstop of an ipamctl run, ms. `--timeout` bounds each call (docs/ipamctl.md) and a command
 * such as `show --blocks` makes several, so the backstop is a few of the default 60 s deadlines
 * below: at load ~37 one `show` was killed at a 120 s backstop while its calls were in time.
 */
export const IPAMCTL_BACKSTOP_MS = 300_000;

/** What a run of `ipamctl` printed and how it ended. */
export type IpamctlRun = CommandRun;

/**
 * Runs `ipamctl ...args` to completion with `env` over a clean environment (no IPAMD_* from the
 * caller's shell); killed by PID (SIGKILL) at the backstop `timeoutMs` (then the run says so:
 * `timedOut`, and a last stderr line). ipamctl has its own deadline (`--timeout`).
 */
export function ipamctl(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
  timeoutMs = IPAMCTL_BACKSTOP_MS,
): Promise<IpamctlRun> {
  // A generous --timeout (unless the test gives its own): on a loaded machine elections churn
  // (terms 18-19 seen at load 60) and the default 15 s deadline can pass before a leader is
  // elected; ipamctl retries until its deadline, so a later deadline lets it see the leader.
  const withTimeout = args.includes("--timeout") ? args : ["--timeout", "60", ...args];
  return runNodeScript(IPAMCTL_MAIN, withTimeout, {
    env: { PATH: process.env.PATH ?? "", ...env },
    timeoutMs,
  });
}

/** The JSON document of a `--json` run; throws with the run's output when it is not one. */
export function jsonOf(run: IpamctlRun): Record<string, unknown> {
  try {
    return JSON.parse(run.stdout) as Record<string, unknown>;
  } catch {
    throw new Error(`not JSON (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
}
