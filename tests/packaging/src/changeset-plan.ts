import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runOk } from "./run.js";
import { type PackageManifest, readManifest, type WorkspacePackage } from "./workspace.js";

export type Bump = "major" | "minor" | "patch";

/** One `.changeset/*.md` file: the bump it asks for in each package it names. */
export interface Changeset {
  /** File name without `.md`. */
  readonly id: string;
  readonly releases: Readonly<Record<string, Bump | "none">>;
}

const bumpOrder: readonly (Bump | "none")[] = ["none", "patch", "minor", "major"];

/**
 * Reads every changeset in `changesetDir` (all `.md` files but `README.md`). Throws, naming
 * the file and line, on a front matter line that is not `"<package>": major|minor|patch|none`.
 */
export function readChangesets(changesetDir: string): Changeset[] {
  const changesets: Changeset[] = [];
  for (const file of readdirSync(changesetDir).sort()) {
    if (!file.endsWith(".md") || file === "README.md") continue;
    const text = readFileSync(join(changesetDir, file), "utf8");
    const frontMatter = /^---\r?\n([\s\S]*?)^---\s*$/m.exec(text);
    if (!frontMatter) throw new Error(`.changeset/${file}: no --- front matter ---`);
    const releases: Record<string, Bump | "none"> = {};
    for (const line of (frontMatter[1] ?? "").split(/\r?\n/)) {
      if (line.trim() === "") continue;
      const match = /^\s*["']?([^"':\s]+)["']?\s*:\s*(major|minor|patch|none)\s*$/.exec(line);
      if (!match?.[1] || !match[2]) {
        throw new Error(`.changeset/${file}: "${line}" is not "<package>": major|minor|patch|none`);
      }
      releases[match[1]] = match[2] as Bump | "none";
    }
    changesets.push({ id: file.slice(0, -3), releases });
  }
  return changesets;
}

/**
 * The bump each package's own changesets ask for: the highest one naming it. Packages no
 * changeset names (or only with `none`) are absent.
 */
export function requestedBumps(changesets: readonly Changeset[]): Map<string, Bump> {
  const bumps = new Map<string, Bump>();
  for (const changeset of changesets) {
    for (const [name, bump] of Object.entries(changeset.releases)) {
      if (bump === "none") continue;
      const current = bumps.get(name);
      if (!current || bumpOrder.indexOf(bump) > bumpOrder.indexOf(current)) bumps.set(name, bump);
    }
  }
  return bumps;
}

/**
 * Runs `changeset version` (the `changesetBin` executable) in a throw-away copy of the
 * repository's release inputs (root package.json, pnpm-workspace.yaml, `.changeset/`, each
 * package's package.json) and returns each package's manifest as it would be committed:
 * name → manifest with the new `version` and rewritten internal ranges. The repository itself
 * is not touched. Throws with the tool's output when it fails.
 */
export async function dryRunVersion(
  root: string,
  packages: readonly WorkspacePackage[],
  changesetBin: string,
): Promise<Map<string, PackageManifest>> {
  const copy = mkdtempSync(join(tmpdir(), "ipam-changeset-plan-"));
  try {
    for (const file of ["package.json", "pnpm-workspace.yaml"]) {
      cpSync(join(root, file), join(copy, file));
    }
    cpSync(join(root, ".changeset"), join(copy, ".changeset"), { recursive: true });
    for (const pkg of packages) {
      mkdirSync(join(copy, pkg.relativeDir), { recursive: true });
      cpSync(join(pkg.dir, "package.json"), join(copy, pkg.relativeDir, "package.json"));
    }
    await runOk(changesetBin, ["version"], { cwd: copy });
    return new Map(
      packages.map((pkg) => [pkg.name, readManifest(join(copy, pkg.relativeDir, "package.json"))]),
    );
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

/**
 * The range `pnpm publish` writes for an internal dependency declared as `spec`, given the
 * version the dependency is published at: `workspace:^` → `^1.2.3`, `workspace:~` → `~1.2.3`,
 * `workspace:*` → `1.2.3`, `workspace:<range>` → `<range>`; a spec without `workspace:` as is.
 */
export function publishedRange(spec: string, dependencyVersion: string): string {
  if (!spec.startsWith("workspace:")) return spec;
  const range = spec.slice("workspace:".length);
  if (range === "^" || range === "~") return `${range}${dependencyVersion}`;
  if (range === "*") return dependencyVersion;
  return range;
}
