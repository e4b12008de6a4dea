import { execFile } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { killAll, logsOf, spawnIpamd, tempDir, waitFor } from "./helpers/processes.js";

// What a new user sees on the first run of `ipamd` (role all): the ready line's suggested
// command works as printed, from any folder, and `--log-format pretty` gives lines for the eye.

afterEach(killAll);

function sh(
  command: string,
  cwd: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("sh", ["-c", command], { cwd, timeout: 300_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

function daemonArgs(root: string, more: readonly string[] = []): string[] {
  return [
    "--data-dir",
    root,
    "--unix-socket",
    join(root, "ipamd.sock"),
    "--grpc-addr",
    "127.0.0.1:0",
    "--metrics-addr",
    "off",
    "--node-id",
    "first-run",
    ...more,
  ];
}

describe("first run", () => {
  it("suggests, in its ready line, an allocate command that works as printed", async () => {
    const root = tempDir("ipamd-first-run");
    const proc = spawnIpamd("all", daemonArgs(root));
    const command = await waitFor("the ready line", () => {
      for (const line of proc.log) {
        const msg = (JSON.parse(line) as { msg?: string }).msg ?? "";
        const m = /^ready: .*; try: (.+)$/.exec(msg);
        if (m !== null) return m[1];
      }
      return undefined;
    }).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${logsOf([proc])}`);
    });
    // Run it in a shell from another folder, exactly as printed.
    const r = await sh(command as string, tmpdir());
    expect(r.code, `${command}\n${r.stderr}`).toBe(0);
    const answer = JSON.parse(r.stdout) as { addresses: { address: string }[] };
    expect(answer.addresses).toHaveLength(1);
    expect(answer.addresses[0]?.address).toMatch(/^10\.99\./);
  });

  it("writes log lines for the eye with --log-format pretty", async () => {
    const root = tempDir("ipamd-first-run-pretty");
    const proc = spawnIpamd("all", daemonArgs(root, ["--log-format", "pretty"]));
    const ready = await waitFor("the pretty ready line", () =>
      proc.log.find((l) => l.includes("ready: Ipam API")),
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${logsOf([proc])}`);
    });
    expect(ready).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}ready: Ipam API on unix:/);
    expect(() => JSON.parse(ready)).toThrow();
    expect(proc.log[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}data in .* dataDir=/);
  });
});
