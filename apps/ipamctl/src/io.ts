/** Where a command writes and what it reads from its environment: injected, so tests run it in-process. */
export interface CliIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
  /** True when stdout is a terminal: colour and bars are used only then (and not with NO_COLOR). */
  readonly stdoutIsTTY: boolean;
}

/** The process's own streams and environment. */
export function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    stdoutIsTTY: process.stdout.isTTY === true,
  };
}
