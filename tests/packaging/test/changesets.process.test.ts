// The versions `changeset version` would write today are the ones the changesets ask for: no
// package is bumped further than its own changesets say (an optional peer range once pushed
// @ipam/raft to 1.0.0), and each internal range, as published, accepts the version released
// beside it. Run in a throw-away copy: the repository is not touched.
import { join } from "node:path";
import semver from "semver";
import { beforeAll, describe, expect, it } from "vitest";
import {
  dryRunVersion,
  publishedRange,
  readChangesets,
  requestedBumps,
} from "../src/changeset-plan.js";
import { type PackageManifest, readWorkspacePackages, repoRoot } from "../src/workspace.js";

const packages = readWorkspacePackages(repoRoot);
const changesets = readChangesets(join(repoRoot, ".changeset"));
const bumps = requestedBumps(changesets);
let planned: Map<string, PackageManifest> | undefined;

function plan(): Map<string, PackageManifest> {
  if (!planned) throw new Error("changeset version did not run (see the beforeAll error)");
  return planned;
}

beforeAll(async () => {
  const bin = join(repoRoot, "tests", "packaging", "node_modules", ".bin", "changeset");
  planned = await dryRunVersion(repoRoot, packages, bin);
});

describe("changeset version, dry run", () => {
  it("names only packages of the workspace in the changesets", () => {
    const names = new Set(packages.map((p) => p.name));
    const unknown = changesets.flatMap((c) =>
      Object.keys(c.releases)
        .filter((name) => !names.has(name))
        .map((name) => `${c.id}: ${name}`),
    );
    expect(unknown).toEqual([]);
  });

  it("bumps each package as its own changesets ask, and others at most a patch", () => {
    const wrong: string[] = [];
    for (const pkg of packages) {
      const from = pkg.manifest.version;
      const to = plan().get(pkg.name)?.version;
      const bump = bumps.get(pkg.name);
      const allowed = bump ? [semver.inc(from, bump)] : [from, semver.inc(from, "patch")]; // a dependent's patch for an out-of-range dependency
      if (!allowed.includes(to ?? null)) {
        wrong.push(
          `${pkg.name}: ${from} → ${to}, expected ${allowed.join(" or ")} (${bump ?? "no changeset"})`,
        );
      }
    }
    expect(wrong).toEqual([]);
  });

  it("takes no package to a new major version unless a changeset asks for major", () => {
    const jumped = packages
      .filter((p) => bumps.get(p.name) !== "major")
      .filter((p) => {
        const to = plan().get(p.name)?.version ?? p.manifest.version;
        return semver.major(to) > semver.major(p.manifest.version);
      })
      .map((p) => `${p.name}: ${p.manifest.version} → ${plan().get(p.name)?.version}`);
    expect(jumped).toEqual([]);
  });

  it("publishes internal ranges that accept the versions released with them", () => {
    const versions = new Map([...plan()].map(([name, manifest]) => [name, manifest.version]));
    const broken: string[] = [];
    for (const [name, manifest] of plan()) {
      if (manifest.private) continue;
      for (const field of ["dependencies", "peerDependencies", "optionalDependencies"] as const) {
        for (const [dependency, spec] of Object.entries(manifest[field] ?? {})) {
          const version = versions.get(dependency);
          if (!version) continue; // not a workspace package
          const range = publishedRange(spec, version);
          if (!semver.satisfies(version, range)) {
            broken.push(
              `${name} ${field}: ${dependency} "${spec}" → "${range}" excludes ${version}`,
            );
          }
        }
      }
    }
    expect(broken).toEqual([]);
  });
});
