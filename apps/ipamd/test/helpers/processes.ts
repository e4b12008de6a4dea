// Spawning, waiting for and killing real ipamd processes (apps/ipamd/dist/main.js) in tests.
// Every process started here is remembered and killed by PID in `killAll()` (call it from
// afterEach/afterAll).
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The built daemon entry point. */
export const IPAMD_MAIN = fileURLToPath(new URL("../../dist/main.js", import.meta.url));

/** A spawned ipamd process. */
export interface IpamdProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** The arguments it was started with (to restart it the same way). */
  readonly args: readonly string[];
  /** stderr (pino JSON lines), kept for failure messages; the last 200 lines. */
  readonly log: string[];
  /** Resolves with the exit code (null when killed by a signal). */
  exited(): Promise<number | null>;
  /** Sends `signal` to this process (by PID) if it still runs. */
  kill(signal: NodeJS.Signals): void;
  running(): boolean;
}

const started: IpamdProcess[] = [];

/** A new empty folder under the OS temp dir. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `${prefix}-`));
}

/** A TCP port on 127.0.0.1 that was free a moment ago (bind 0, read, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Starts `node dist/main.js ...args`; stdout is ignored, stderr is collected. */
export function spawnIpamd(name: string, args: readonly string[]): IpamdProcess {
  const child = spawn(process.execPath, [IPAMD_MAIN, ...args], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  if (child.pid === undefined) throw new Error(`${name}: spawn failed`);
  const log: string[] = [];
  let partial = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      log.push(line);
      if (log.length > 200) log.shift();
    }
    if (process.env.IPAMD_TEST_LOGS === "1") process.stderr.write(`[${name}] ${chunk}`);
  });
  const exit = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => resolve(code));
  });
  const pid = child.pid;
  const proc: IpamdProcess = {
    name,
    child,
    pid,
    args,
    log,
    exited: () => exit,
    running: () => child.exitCode === null && child.signalCode === null,
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(pid, signal);
        } catch {
          // already gone
        }
      }
    },
  };
  started.push(proc);
  return proc;
}

/** SIGKILLs (by PID) every process spawned by this module that still runs and waits for them. */
export async function killAll(): Promise<void> {
  const running = started.splice(0);
  for (const p of running) p.kill("SIGKILL");
  await Promise.all(running.map((p) => p.exited()));
}

/**
 * Polls `probe` every `intervalMs` until it returns a value other than undefined (or stops
 * throwing), at most `timeoutMs` (default 120 s: a backstop for a loaded machine, where daemons
 * start and elect slowly, not an expectation); then throws naming `what` and the last error.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  options: { readonly timeoutMs?: number; readonly intervalMs?: number } = {},
): Promise<T> {
  const until = Date.now() + (options.timeoutMs ?? 120_000);
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) {
      const why = last === undefined ? "" : `: ${(last as Error).message ?? String(last)}`;
      throw new Error(`timed out waiting for ${what}${why}`);
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 100));
  }
}

/** The last `n` stderr lines of each process, for failure messages. */
export function logsOf(processes: readonly IpamdProcess[], n = 20): string {
  return processes
    .map((p) => `--- ${p.name} (pid ${p.pid})\n${p.log.slice(-n).join("\n")}`)
    .join("\n");
}

/** Runs `node dist/main.js ...args` to completion (a client subcommand); bounded by `timeoutMs`. */
export function runIpamdCommand(
  args: readonly string[],
  timeoutMs = 30_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [IPAMD_MAIN, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      timeout: timeoutMs,
      killSignal: "SIGKILL",
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}
