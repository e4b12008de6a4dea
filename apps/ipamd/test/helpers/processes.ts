// Spawning, waiting for and killing real ipamd processes (apps/ipamd/dist/main.js) in tests.
// Every process started here is remembered and killed by PID in `killAll()` (call it from
// afterEach/afterAll).
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
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
  /**
   * Resolves with the exit code (null when killed by a signal) once the process has exited and
   * its stderr is read to the end, so `log` then holds its last lines.
   */
  exited(): Promise<number | null>;
  /** Sends `signal` to this process (by PID) if it still runs. */
  kill(signal: NodeJS.Signals): void;
  running(): boolean;
}

const started: IpamdProcess[] = [];
// Commands of runNodeScript still running (a test that timed out may leave one): killAll ends them.
const commands = new Map<number, Promise<unknown>>();

// Folders made by tempDir() in this test file, removed by removeTempDirs() after the file.
const temps: string[] = [];

/**
 * A new empty folder under the OS temp dir, removed after the test file by
 * {@link removeTempDirs} (the process tests' setup file, `temp-cleanup.ts`, registers it).
 */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  temps.push(dir);
  return dir;
}

/**
 * Removes every folder tempDir() made (data dirs of daemons and etcd members: an etcd member's
 * is ~370 MB, and a suite run starts dozens), unless `IPAMD_TEST_KEEP_TMP` is set to look at them
 * after a failure. Run it after the daemons using them are stopped.
 */
export function removeTempDirs(): void {
  const dirs = temps.splice(0);
  if (process.env.IPAMD_TEST_KEEP_TMP) return;
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}

// Ports handed out by `freePort()` in this process; never handed out twice.
const handedOut = new Set<number>();
let nextCandidate = -1;

/**
 * The first port of the kernel's ephemeral range (outgoing connections take their local port
 * from it). A port picked by binding port 0 lies in that range too, so between the probe's close
 * and the daemon's bind any client socket on the machine could take it (CI saw exactly that:
 * EADDRINUSE on a port freePort had just returned). Ports below this bound are only ever taken
 * by an explicit bind.
 */
function ephemeralLow(): number {
  try {
    const low = Number.parseInt(
      readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0] ?? "",
      10,
    );
    return Number.isInteger(low) && low > 11_024 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

/** Resolves whether 127.0.0.1:`port` can be bound right now (bind, then close). */
function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/**
 * A TCP port on 127.0.0.1 that is free now, below the ephemeral range (so no outgoing connection
 * can take it before the daemon binds it), and not handed out before by this process. Each
 * process walks the range from its own random start, so test workers running side by side do
 * not race for the same ports.
 */
export async function freePort(): Promise<number> {
  const low = 10_000;
  const high = ephemeralLow() - 1;
  const span = high - low + 1;
  if (nextCandidate < 0) nextCandidate = low + Math.floor(Math.random() * span);
  for (let tried = 0; tried < span; tried++) {
    const port = nextCandidate;
    nextCandidate = nextCandidate >= high ? low : nextCandidate + 1;
    if (handedOut.has(port)) continue;
    if (await canBind(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free TCP port on 127.0.0.1 between ${low} and ${high}`);
}

/** Options of {@link spawnIpamd}. */
export interface SpawnOptions {
  /** Variables added to the test's environment (e.g. `NODE_NAME`). */
  readonly env?: Readonly<Record<string, string>>;
  /** Node flags before the script, e.g. `--cpu-prof` (benchmarks). */
  readonly nodeArgs?: readonly string[];
  /** Another build's entry point (a same-run baseline); default {@link IPAMD_MAIN}. */
  readonly main?: string;
}

/** Starts `node ...nodeArgs dist/main.js ...args`; stdout is ignored, stderr is collected. */
export function spawnIpamd(
  name: string,
  args: readonly string[],
  options: SpawnOptions = {},
): IpamdProcess {
  const { env, nodeArgs = [], main = IPAMD_MAIN } = options;
  const child = spawn(process.execPath, [...nodeArgs, main, ...args], {
    stdio: ["ignore", "ignore", "pipe"],
    ...(env === undefined ? {} : { env: { ...process.env, ...env } }),
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
  child.stderr?.once("end", () => {
    if (partial !== "") log.push(partial);
    partial = "";
  });
  // "close", not "exit": "exit" can come before the last stderr chunks are read, and a test
  // that reads `log` after `exited()` (the error line of a process that refused to start)
  // would miss them on a busy machine.
  const exit = new Promise<number | null>((resolve) => {
    child.once("close", (code) => resolve(code));
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

/**
 * SIGKILLs (by PID) every process spawned by this module that still runs (daemons and commands
 * of {@link runNodeScript}) and waits for them to exit.
 */
export async function killAll(): Promise<void> {
  const running = started.splice(0);
  for (const p of running) p.kill("SIGKILL");
  const pending = [...commands.entries()];
  for (const [pid] of pending) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  await Promise.all([...running.map((p) => p.exited()), ...pending.map(([, done]) => done)]);
}

/**
 * The deadline of one RPC inside a poll (`waitFor`) of a test: generous, because on a loaded
 * 2-core machine a server that is starting, electing or catching up can take seconds to answer
 * one call, and a short per-attempt deadline fails every attempt until the poll's own deadline
 * (seen at load 57: "Deadline exceeded after 2.079s" at every attempt of a 60 s wait).
 */
export const POLL_RPC_MS = 15_000;

/**
 * `maxAttempts` of the tests' cluster clients: their calls retry (UNAVAILABLE "no leader known",
 * NOT_LEADER, with backoff capped at 1 s) until their deadline, as docs/ipamd.md says clients
 * do, instead of the client's default five attempts (about 1.5 s: elections on a loaded machine
 * take longer and churn, terms 18-19 were seen at load 60). The deadline bounds them.
 */
export const RETRY_ATTEMPTS = 200;

/**
 * Ends `p` if it still runs (SIGKILL by PID) and waits for it to exit, so that the next test can
 * reuse its ports and data dir. For clean-up (`onTestFinished`/`finally`) of a process a test
 * started, when the test may have failed before its own orderly stop.
 */
export async function ensureEnded(p: IpamdProcess): Promise<void> {
  p.kill("SIGKILL");
  await p.exited();
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

/** What a command run to completion printed and how it ended (null: killed by a signal). */
export interface CommandRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /**
   * True when the helper SIGKILLed the command at its backstop (`timeoutMs`); `stderr` then
   * ends with a line saying so, so that a failure on `code` (null) names the cause.
   */
  readonly timedOut: boolean;
}

/**
 * The default backstop of {@link runNodeScript}: generous, because it is a backstop for a command
 * that hangs, not a deadline (the commands have their own, `--timeout`, default 10–30 s). On a
 * loaded 2-core machine starting Node and importing a built CLI alone can take tens of seconds.
 */
export const COMMAND_BACKSTOP_MS = 120_000;

/**
 * Runs `node SCRIPT ...args` to completion and collects its output; SIGKILLed (by PID) after
 * `timeoutMs` (default {@link COMMAND_BACKSTOP_MS}), and then the run says so (`timedOut`, and
 * a last stderr line "killed by the test helper after N ms"). With `env` the child gets exactly
 * that environment, else this process's.
 */
export function runNodeScript(
  script: string,
  args: readonly string[],
  options: { readonly env?: Readonly<Record<string, string>>; readonly timeoutMs?: number } = {},
): Promise<CommandRun> {
  const timeoutMs = options.timeoutMs ?? COMMAND_BACKSTOP_MS;
  const run = new Promise<CommandRun>((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      ...(options.env === undefined ? {} : { env: { ...options.env } }),
    });
    const pid = child.pid;
    if (pid === undefined) {
      child.once("error", (err) => reject(err));
      return;
    }
    let timedOut = false;
    const backstop = setTimeout(() => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      timedOut = true;
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }, timeoutMs);
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.once("close", (code) => {
      clearTimeout(backstop);
      if (timedOut) {
        const name = script.split("/").slice(-3).join("/");
        stderr += `${stderr === "" || stderr.endsWith("\n") ? "" : "\n"}[test helper] ${name} ${args.join(" ")}: killed (SIGKILL) by the test helper after ${timeoutMs} ms, its backstop; the command did not end by itself\n`;
      }
      resolve({ code, stdout, stderr, timedOut });
    });
    commands.set(pid, new Promise((done) => child.once("close", done)));
    child.once("close", () => commands.delete(pid));
  });
  return run;
}

/**
 * Runs `node dist/main.js ...args` to completion (a client subcommand); killed at `timeoutMs`
 * (default {@link COMMAND_BACKSTOP_MS}), which the run then reports (`timedOut`).
 */
export function runIpamdCommand(
  args: readonly string[],
  timeoutMs = COMMAND_BACKSTOP_MS,
): Promise<CommandRun> {
  return runNodeScript(IPAMD_MAIN, args, { timeoutMs });
}
