import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

/** The fields of a package.json these checks read. */
export interface PackageManifest {
  readonly name: string;
  readonly version: string;
  readonly private?: boolean;
  readonly exports?: unknown;
  readonly bin?: string | Readonly<Record<string, string>>;
  readonly engines?: Readonly<Record<string, string>>;
  readonly dependencies?: Readonly<Record<string, string>>;
  readonly devDependencies?: Readonly<Record<string, string>>;
  readonly peerDependencies?: Readonly<Record<string, string>>;
  readonly peerDependenciesMeta?: Readonly<Record<string, { readonly optional?: boolean }>>;
  readonly optionalDependencies?: Readonly<Record<string, string>>;
}

/** One package of the pnpm workspace. */
export interface WorkspacePackage {
  readonly name: string;
  /** Absolute path of the package's folder. */
  readonly dir: string;
  /** Path of the folder relative to the repository root, with `/` (`packages/bitmap`). */
  readonly relativeDir: string;
  readonly manifest: PackageManifest;
}

/** The settings of pnpm-workspace.yaml these checks read. */
export interface WorkspaceConfig {
  readonly packages: readonly string[];
  readonly onlyBuiltDependencies?: readonly string[];
  readonly ignoredBuiltDependencies?: readonly string[];
}

/** The repository root (this file is `tests/packaging/src/workspace.ts`). */
export const repoRoot: string = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/** Reads a package.json. Throws when it is missing or not JSON. */
export function readManifest(path: string): PackageManifest {
  return JSON.parse(readFileSync(path, "utf8")) as PackageManifest;
}

/** Reads `pnpm-workspace.yaml` of `root`. */
export function readWorkspaceConfig(root: string): WorkspaceConfig {
  return parse(readFileSync(join(root, "pnpm-workspace.yaml"), "utf8")) as WorkspaceConfig;
}

/**
 * Every package of the workspace at `root`, found through the `packages` globs of its
 * pnpm-workspace.yaml, sorted by folder. Only `<folder>/*` globs are understood: any other
 * throws, naming the glob, so a new layout cannot silently drop packages from the checks.
 */
export function readWorkspacePackages(root: string): WorkspacePackage[] {
  const packages: WorkspacePackage[] = [];
  for (const glob of readWorkspaceConfig(root).packages) {
    const match = /^([\w.-]+)\/\*$/.exec(glob);
    if (!match?.[1]) {
      throw new Error(
        `pnpm-workspace.yaml packages: "${glob}" is not of the form "<folder>/*"; teach tests/packaging/src/workspace.ts to read it`,
      );
    }
    const group = match[1];
    if (!existsSync(join(root, group))) continue;
    for (const entry of readdirSync(join(root, group)).sort()) {
      const manifestPath = join(root, group, entry, "package.json");
      if (!existsSync(manifestPath)) continue;
      const manifest = readManifest(manifestPath);
      packages.push({
        name: manifest.name,
        dir: join(root, group, entry),
        relativeDir: `${group}/${entry}`,
        manifest,
      });
    }
  }
  return packages;
}

/** The packages that `changeset publish` would publish: every one not marked `private`. */
export function publishablePackages(packages: readonly WorkspacePackage[]): WorkspacePackage[] {
  return packages.filter((pkg) => pkg.manifest.private !== true);
}
