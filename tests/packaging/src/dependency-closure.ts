import { existsSync, realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { type PackageManifest, readManifest } from "./workspace.js";

/**
 * The names a manifest makes its installer fetch: `dependencies`, `optionalDependencies`
 * (installed where they can be) and the `peerDependencies` not marked optional in
 * `peerDependenciesMeta` (npm and pnpm install those too). Optional peers are the user's choice.
 */
export function installedDependencyNames(manifest: PackageManifest): string[] {
  const optionalPeers = new Set(
    Object.entries(manifest.peerDependenciesMeta ?? {})
      .filter(([, meta]) => meta.optional === true)
      .map(([name]) => name),
  );
  return [
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.optionalDependencies ?? {}),
    ...Object.keys(manifest.peerDependencies ?? {}).filter((name) => !optionalPeers.has(name)),
  ];
}

/** The folder Node would load package `name` from for code in `fromDir`, or undefined. */
function resolvePackageDir(name: string, fromDir: string): string | undefined {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return realpathSync(candidate);
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * Every package that installing `name` into the project at `projectDir` brings with it, by
 * name, `name` excluded: its installed dependencies (see {@link installedDependencyNames}), and
 * theirs, resolved from each package's real folder as Node resolves them. Throws, naming the
 * chain, when an installed dependency cannot be found (the install is broken).
 */
export function dependencyClosure(projectDir: string, name: string): Set<string> {
  const root = resolvePackageDir(name, projectDir);
  if (root === undefined) throw new Error(`${name} is not installed in ${projectDir}`);
  const names = new Set<string>();
  const visited = new Set<string>([root]);
  const queue: Array<{ readonly dir: string; readonly chain: string }> = [
    { dir: root, chain: name },
  ];
  for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
    const manifest = readManifest(join(item.dir, "package.json"));
    for (const dependency of installedDependencyNames(manifest)) {
      const dir = resolvePackageDir(dependency, item.dir);
      const chain = `${item.chain} → ${dependency}`;
      if (dir === undefined) {
        if (manifest.optionalDependencies?.[dependency] !== undefined) continue;
        throw new Error(`${chain}: not installed`);
      }
      names.add(dependency);
      if (!visited.has(dir)) {
        visited.add(dir);
        queue.push({ dir, chain });
      }
    }
  }
  return names;
}
