import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runNodeScript, spawnIpamd, tempDir } from "./helpers/processes.js";

// The process helpers that other process tests stand on: a command killed at its backstop says
// so (not just code null), and a daemon's last stderr line is in its log once it has exited.

describe("test helpers (apps/ipamd/test/helpers/processes.ts)", () => {
  it("a command killed at its backstop says so in the run", async () => {
    const script = join(tempDir("ipamd-helper-hang"), "hang.mjs");
    writeFileSync(script, "setInterval(() => {}, 1000);\n");
    const run = await runNodeScript(script, ["--flag"], { timeoutMs: 1000 });
    expect(run.code).toBeNull();
    expect(run.timedOut).toBe(true);
    expect(run.stderr).toContain(
      "hang.mjs --flag: killed (SIGKILL) by the test helper after 1000 ms",
    );
  });

  it("a command that ends by itself is not marked", async () => {
    const script = join(tempDir("ipamd-helper-exit"), "exit.mjs");
    writeFileSync(script, 'process.stderr.write("bye"); process.exitCode = 3;\n');
    const run = await runNodeScript(script, []);
    expect(run).toMatchObject({ code: 3, stderr: "bye", timedOut: false });
  });

  it("a daemon that refuses to start has its error line in its log when exited() resolves", async () => {
    const p = spawnIpamd("refuses", ["--election-ms", "-5", "--data-dir", tempDir("ipamd-helper")]);
    expect(await p.exited()).toBe(2);
    expect(p.log.join("\n")).toContain("--election-ms");
  });
});
