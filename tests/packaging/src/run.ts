import { spawn } from "node:child_process";

/** What a finished child process said. */
export interface RunResult {
  /** Exit code; `null` when a signal ended it (see `signal`). */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly cwd: string;
  /** The child's whole environment (default: this process's, without `NODE_OPTIONS`). */
  readonly env?: NodeJS.ProcessEnv;
  /** SIGKILL the child after this many ms (default 5 minutes); its result then has `signal`. */
  readonly timeoutMs?: number;
}

/**
 * This process's environment without `NODE_OPTIONS`, so a child runs with the flags its command
 * line gives and nothing inherited (a `--experimental-require-module` from a developer's shell
 * would hide the very thing the probes check).
 */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.NODE_OPTIONS;
  return env;
}

/**
 * Runs `command args` and resolves with its exit status and output once it ends, whatever the
 * status (callers decide what a failure is; {@link runOk} throws on one). Rejects only when the
 * command cannot be started.
 */
export function run(
  command: string,
  args: readonly string[],
  options: RunOptions,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? cleanEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 300_000);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(stdout).toString("utf8"),
        stderr: Buffer.concat(stderr).toString("utf8"),
      });
    });
  });
}

/** {@link run}, and throws (with the command, its status and its output) unless it exits 0. */
export async function runOk(
  command: string,
  args: readonly string[],
  options: RunOptions,
): Promise<RunResult> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    const status = result.signal ? `was killed by ${result.signal}` : `exited ${result.code}`;
    throw new Error(
      `${command} ${args.join(" ")} (in ${options.cwd}) ${status}\n${result.stdout}\n${result.stderr}`,
    );
  }
  return result;
}
