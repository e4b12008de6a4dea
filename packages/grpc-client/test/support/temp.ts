import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A fresh temp folder and its cleanup. Unix socket paths must stay short (< 108 bytes). */
export function tempFolder(prefix = "ipg-"): { readonly path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * Poll `predicate` every 5 ms until it holds; throws naming `what` once `timeoutMs` passes.
 * The deadline is a backstop for a loaded machine, not an expectation of speed.
 */
export async function waitFor(
  predicate: () => boolean,
  timeoutMs = 60_000,
  what = "the condition",
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > until) throw new Error(`${what} did not hold within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
