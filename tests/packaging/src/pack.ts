import { runOk } from "./run.js";
import type { WorkspacePackage } from "./workspace.js";

/** A package packed as it would be published. */
export interface PackedPackage {
  readonly name: string;
  readonly version: string;
  /** Absolute path of the `.tgz`. */
  readonly tarball: string;
}

interface PnpmPackJson {
  readonly name: string;
  readonly version: string;
  readonly filename: string;
}

/**
 * `pnpm pack`s the packages of the workspace at `root` into `destination` (one pnpm run for
 * all), exactly as `pnpm publish` would: `workspace:` ranges rewritten, only the `files`
 * allow-list, the built `dist` as it is now (build first). Results follow `packages`' order.
 * Throws when pnpm fails or does not report one of the packages.
 */
export async function packPackages(
  root: string,
  packages: readonly WorkspacePackage[],
  destination: string,
): Promise<PackedPackage[]> {
  const filters = packages.flatMap((pkg) => ["--filter", pkg.name]);
  const { stdout } = await runOk(
    "pnpm",
    [...filters, "pack", "--json", "--pack-destination", destination],
    { cwd: root },
  );
  const parsed = JSON.parse(stdout) as PnpmPackJson | PnpmPackJson[];
  const reports = Array.isArray(parsed) ? parsed : [parsed];
  return packages.map((pkg) => {
    const packed = reports.find((report) => report.name === pkg.name);
    if (!packed) throw new Error(`pnpm pack did not report ${pkg.name}:\n${stdout}`);
    return { name: packed.name, version: packed.version, tarball: packed.filename };
  });
}
