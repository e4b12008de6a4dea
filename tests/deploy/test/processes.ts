// Process helpers for the deploy tests: real processes, their output kept for assertions and
// failure messages, waits that poll a condition until a deadline (never a fixed sleep).
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";

export interface Running {
  readonly child: ChildProcess;
  /** stdout and stderr lines so far. */
  readonly output: string[];
  /** Resolves with the exit code (or 128 + signal number's name when killed: -1). */
  readonly exited: Promise<number>;
}

/** Starts `command` with `env` (added to PATH only), keeping its output. */
export function start(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Running {
  const child = spawn(command, [...args], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const collect = (chunk: Buffer) => output.push(...chunk.toString().split("\n").filter(Boolean));
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<number>((resolve) =>
    child.once("exit", (code) => resolve(code ?? -1)),
  );
  return { child, output, exited };
}

/** SIGTERM (or `signal`), then SIGKILL after 10 s; resolves when the process is gone. */
export async function stop(running: Running, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (running.child.exitCode !== null || running.child.signalCode !== null) return;
  running.child.kill(signal);
  const timer = setTimeout(() => running.child.kill("SIGKILL"), 10_000);
  await running.exited;
  clearTimeout(timer);
}

/** Polls `probe` every 200 ms until it returns a value other than undefined. */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 240_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: last });
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
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
