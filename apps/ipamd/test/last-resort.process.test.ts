import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// The daemon's last-resort handler in a real process: errors confined to one request or
// connection are logged and counted and the process lives on; a bug ends it with code 1.

const FIXTURE = fileURLToPath(new URL("./fixtures/last-resort-child.ts", import.meta.url));
const REPO = fileURLToPath(new URL("../../../", import.meta.url));

function run(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", FIXTURE], {
      cwd: REPO,
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 60_000,
      killSignal: "SIGKILL",
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("the last-resort handler", () => {
  it("serves on after a zlib or socket error, counts it, and exits 1 on a bug", async () => {
    const { code, stdout, stderr } = await run();
    expect(stdout, stderr).toContain('ipamd_uncaught_errors_total{kind="zlib"} 1');
    expect(stdout, stderr).toContain('ipamd_uncaught_errors_total{kind="socket"} 1');
    const lines = stderr
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { level: number; msg: string; kind?: string });
    expect(
      lines.filter((l) => l.level === 50 && l.msg.includes("serving on")).map((l) => l.kind),
    ).toEqual(["zlib", "socket"]);
    expect(lines.some((l) => l.level === 60 && l.kind === "bug")).toBe(true);
    expect(code).toBe(1);
  });
});
