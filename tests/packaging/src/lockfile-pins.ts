import { readFileSync } from "node:fs";
import { parse } from "yaml";

interface Lockfile {
  readonly lockfileVersion: string;
  readonly packages?: Readonly<Record<string, unknown>>;
}

/**
 * The third-party packages that the workspace lockfile (`pnpm-lock.yaml`, v9) holds in exactly
 * one version: name → version. Pinning a consumer project to them (pnpm `overrides`) installs
 * the very versions the workspace is tested with, all already in the pnpm store, and gives
 * better-sqlite3 the same dependency graph, so pnpm reuses its built addon (side-effects cache)
 * instead of compiling it for two minutes. Names held in several versions are left to resolve.
 * Throws when the lockfile is not v9.
 */
export function readLockfilePins(lockfilePath: string): Record<string, string> {
  const lockfile = parse(readFileSync(lockfilePath, "utf8")) as Lockfile;
  if (!String(lockfile.lockfileVersion).startsWith("9.")) {
    throw new Error(
      `${lockfilePath}: lockfileVersion ${lockfile.lockfileVersion}, expected 9.x; update readLockfilePins`,
    );
  }
  const versions = new Map<string, Set<string>>();
  for (const key of Object.keys(lockfile.packages ?? {})) {
    const at = key.lastIndexOf("@");
    if (at <= 0) continue;
    const name = key.slice(0, at);
    const version = key.slice(at + 1);
    if (!/^\d+\.\d+\.\d+/.test(version)) continue; // file:, link:, git: entries
    const seen = versions.get(name) ?? new Set<string>();
    seen.add(version);
    versions.set(name, seen);
  }
  const pins: Record<string, string> = {};
  for (const [name, seen] of [...versions].sort(([a], [b]) => a.localeCompare(b))) {
    if (seen.size === 1) pins[name] = [...seen][0] as string;
  }
  return pins;
}
