import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { PackedPackage } from "./pack.js";
import { runOk } from "./run.js";

export interface ConsumerProjectOptions {
  /** An empty folder outside the workspace (no pnpm-workspace.yaml above it). */
  readonly dir: string;
  /** The tarballs to install; each also replaces the registry for its name (overrides). */
  readonly packed: readonly PackedPackage[];
  /** More registry dependencies of the project itself: name → exact version. */
  readonly dependencies: Readonly<Record<string, string>>;
  /** Third-party versions to hold every install to (see `readLockfilePins`). */
  readonly pins: Readonly<Record<string, string>>;
  /** Packages whose install scripts may run (pnpm 10 runs none unless listed). */
  readonly onlyBuiltDependencies: readonly string[];
  readonly ignoredBuiltDependencies: readonly string[];
  /** The pnpm store to install from: the workspace's, so tarballs are not downloaded again. */
  readonly storeDir: string;
}

/**
 * Writes a consumer's package.json into `options.dir` and runs `pnpm install` there as a user
 * of the published packages would, with the tarballs in place of the registry for `@ipam/*`.
 * Packages come from the pnpm store; the registry is asked only for metadata not cached yet
 * (`--prefer-offline`). Throws with pnpm's output when the install fails.
 */
export async function installConsumerProject(options: ConsumerProjectOptions): Promise<void> {
  mkdirSync(options.dir, { recursive: true });
  const tarballs = Object.fromEntries(options.packed.map((p) => [p.name, `file:${p.tarball}`]));
  const manifest = {
    name: "ipam-packaging-consumer",
    version: "0.0.0",
    private: true,
    type: "module",
    dependencies: { ...tarballs, ...options.dependencies },
    pnpm: {
      // The tarballs win over the registry also where one @ipam package depends on another.
      overrides: { ...options.pins, ...tarballs },
      onlyBuiltDependencies: options.onlyBuiltDependencies,
      ignoredBuiltDependencies: options.ignoredBuiltDependencies,
    },
  };
  writeFileSync(join(options.dir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  await runOk(
    "pnpm",
    [
      "install",
      "--prefer-offline",
      // CI=true turns frozen-lockfile on; this project has no lockfile to freeze.
      "--no-frozen-lockfile",
      "--store-dir",
      options.storeDir,
      "--reporter=append-only",
    ],
    { cwd: options.dir, timeoutMs: 600_000 },
  );
}
