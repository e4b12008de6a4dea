// Every publishable package, packed as `pnpm publish` would pack it and installed from the
// tarball into a project outside the workspace, works for each kind of consumer: ES module
// `import`, CommonJS `require()` (plain Node >= 20.19, no flag), TypeScript under
// `module: nodenext` (.ts and .cts) and `moduleResolution: bundler`, publint and attw.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installConsumerProject } from "../src/consumer-project.js";
import { dependencyClosure } from "../src/dependency-closure.js";
import { type Entrypoint, listBins, listEntrypoints } from "../src/entrypoints.js";
import { type LintReport, runAttw, runPublint } from "../src/lint-tarball.js";
import { readLockfilePins } from "../src/lockfile-pins.js";
import { packPackages } from "../src/pack.js";
import { type ProbeResults, probeEntrypoints } from "../src/probes.js";
import { run, runOk } from "../src/run.js";
import {
  type TypeConsumerFile,
  type TypeDiagnostic,
  type TypeSetup,
  typeCheck,
  writeTypeConsumers,
} from "../src/type-consumers.js";
import {
  publishablePackages,
  readManifest,
  readWorkspaceConfig,
  readWorkspacePackages,
  repoRoot,
  type WorkspacePackage,
} from "../src/workspace.js";

const selfDir = join(repoRoot, "tests", "packaging");
const publishable = publishablePackages(readWorkspacePackages(repoRoot));

/**
 * How each installed executable is run to show it works from the tarball (its files are all
 * packed, its shebang and format load). Every `bin` of a publishable package needs an entry.
 */
const binSmoke: Record<
  string,
  { readonly args: readonly string[]; readonly env: NodeJS.ProcessEnv; readonly prints: RegExp }
> = {
  ipamd: { args: ["--help"], env: {}, prints: /^Usage: ipamd/m },
  "ipamd-cni": { args: [], env: { CNI_COMMAND: "VERSION" }, prints: /"supportedVersions":\[/ },
  ipamctl: { args: ["--help"], env: {}, prints: /^Usage: ipamctl/m },
};

interface Prepared {
  readonly consumerDir: string;
  readonly entries: ReadonlyMap<string, readonly Entrypoint[]>;
  readonly probes: ProbeResults;
  readonly typeFiles: readonly TypeConsumerFile[];
  readonly diagnostics: Readonly<Record<TypeSetup, readonly TypeDiagnostic[]>>;
  readonly attw: ReadonlyMap<string, LintReport>;
  readonly publint: ReadonlyMap<string, LintReport>;
}

let workDir: string | undefined;
let prepared: Prepared | undefined;

/** What beforeAll prepared; throws when it failed (its error is reported on the hook). */
function ready(): Prepared {
  if (!prepared) throw new Error("the tarballs were not prepared (see the beforeAll error)");
  return prepared;
}

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), "ipam-packaging-"));
  const tarballDir = join(workDir, "tarballs");
  const consumerDir = join(workDir, "consumer");
  mkdirSync(tarballDir);
  const packedList = await packPackages(repoRoot, publishable, tarballDir);
  const storeDir = (await runOk("pnpm", ["store", "path"], { cwd: repoRoot })).stdout.trim();
  const workspaceConfig = readWorkspaceConfig(repoRoot);
  const rootDevDependencies = readManifest(join(repoRoot, "package.json")).devDependencies ?? {};
  const consumerTools = ["typescript", "@types/node"].map((name) => {
    const version = rootDevDependencies[name];
    if (!version) throw new Error(`root package.json devDependencies: ${name} is missing`);
    return [name, version] as const;
  });
  await installConsumerProject({
    dir: consumerDir,
    packed: packedList,
    dependencies: Object.fromEntries(consumerTools),
    pins: readLockfilePins(join(repoRoot, "pnpm-lock.yaml")),
    onlyBuiltDependencies: workspaceConfig.onlyBuiltDependencies ?? [],
    ignoredBuiltDependencies: workspaceConfig.ignoredBuiltDependencies ?? [],
    storeDir,
  });
  // The entries as published (read from the installed package.json, not the workspace's).
  const entries = new Map(
    packedList.map((p) => [
      p.name,
      listEntrypoints(readManifest(join(consumerDir, "node_modules", p.name, "package.json"))),
    ]),
  );
  const allEntries = [...entries.values()].flat();
  const probes = await probeEntrypoints(consumerDir, allEntries);
  const typeFiles = writeTypeConsumers(consumerDir, allEntries, probes);
  const [nodenext, bundler] = await Promise.all([
    typeCheck(consumerDir, "nodenext"),
    typeCheck(consumerDir, "bundler"),
  ]);
  const attwReports: LintReport[] = [];
  for (const p of packedList) attwReports.push(await runAttw(p.tarball, entries.get(p.name) ?? []));
  const publintReports: LintReport[] = [];
  for (const p of packedList) publintReports.push(await runPublint(p.tarball));
  prepared = {
    consumerDir,
    entries,
    probes,
    typeFiles,
    diagnostics: { nodenext, bundler },
    attw: new Map(packedList.map((p, i) => [p.name, attwReports[i] as LintReport])),
    publint: new Map(packedList.map((p, i) => [p.name, publintReports[i] as LintReport])),
  };
}, 900_000);

afterAll(() => {
  if (!workDir) return;
  // IPAM_PACKAGING_KEEP=1 keeps the tarballs and the consumer project to look into.
  if (process.env.IPAM_PACKAGING_KEEP) console.log(`kept ${workDir}`);
  else rmSync(workDir, { recursive: true, force: true });
});

/** The compiler errors that concern `name`: in its consumer files or its shipped files. */
function diagnosticsOf(name: string, setup: TypeSetup): string[] {
  const { typeFiles, diagnostics } = ready();
  const ownFiles = new Set(
    typeFiles.filter((f) => isEntryOf(f.specifier, name)).map((f) => f.path),
  );
  return diagnostics[setup]
    .filter((d) => ownFiles.has(d.file) || d.file.includes(`/node_modules/${name}/`))
    .map((d) => d.text);
}

function isEntryOf(specifier: string, name: string): boolean {
  return specifier === name || specifier.startsWith(`${name}/`);
}

it("lists every publishable package as a devDependency, so turbo builds it before this test", () => {
  const devDependencies = readManifest(join(selfDir, "package.json")).devDependencies ?? {};
  const missing = publishable.map((p) => p.name).filter((name) => !(name in devDependencies));
  expect(missing, 'add them to tests/packaging/package.json as "workspace:*"').toEqual([]);
});

describe.each(publishable.map((pkg) => [pkg.name, pkg] as [string, WorkspacePackage]))(
  "%s from its tarball",
  (name, pkg) => {
    it("loads every entry with import (ES module)", () => {
      const { entries, probes } = ready();
      const failures: string[] = [];
      for (const entry of entries.get(name) ?? []) {
        const result = probes.esm[entry.specifier];
        if (!result || result.error) failures.push(`${entry.specifier}: ${result?.error}`);
        else if (entry.kind === "module" && (result.keys?.length ?? 0) === 0)
          failures.push(`${entry.specifier}: no exports`);
        else if (entry.kind === "file" && !result.exists)
          failures.push(`${entry.specifier}: ${result.resolved} does not exist`);
      }
      expect(failures, probes.esmStderr).toEqual([]);
      expect(entries.get(name)?.length).toBeGreaterThan(0);
    });

    it("loads every entry with require() on plain Node >= 20.19, with the exports import gives", () => {
      const { entries, probes } = ready();
      const failures: string[] = [];
      for (const entry of entries.get(name) ?? []) {
        const cjs = probes.cjs[entry.specifier];
        const esm = probes.esm[entry.specifier];
        if (!cjs || cjs.error) {
          failures.push(`${entry.specifier}: ${cjs?.error}`);
        } else if (entry.kind === "module") {
          if (JSON.stringify(cjs.keys) !== JSON.stringify(esm?.keys)) {
            failures.push(
              `${entry.specifier}: require() gave [${cjs.keys}], import gave [${esm?.keys}]`,
            );
          }
          // One file for both (an ES module loaded by require()): one module instance too.
          if (cjs.resolved === esm?.resolved && !cjs.sameAsImport) {
            failures.push(`${entry.specifier}: require() and import() gave different objects`);
          }
        } else if (entry.kind === "json" && cjs.json !== esm?.json) {
          failures.push(`${entry.specifier}: require() and import gave different JSON`);
        } else if (entry.kind === "file" && (cjs.resolved !== esm?.resolved || !cjs.exists)) {
          failures.push(`${entry.specifier}: require.resolve gave ${cjs.resolved}`);
        }
      }
      expect(failures, probes.cjsStderr).toEqual([]);
    });

    it("is typed for TypeScript with module nodenext (.ts import and .cts require)", () => {
      expect(diagnosticsOf(name, "nodenext")).toEqual([]);
      const styles = ready()
        .typeFiles.filter((f) => isEntryOf(f.specifier, name))
        .map((f) => f.style);
      expect(new Set(styles)).toEqual(new Set(["esm", "cjs"]));
    });

    it("is typed for TypeScript with moduleResolution bundler", () => {
      expect(diagnosticsOf(name, "bundler")).toEqual([]);
    });

    it("passes publint (suggestions included, warnings as errors)", () => {
      expect(ready().publint.get(name)?.problems).toEqual([]);
    });

    it("passes attw (policy and reasons: attwPolicy in src/lint-tarball.ts)", () => {
      expect(ready().attw.get(name)?.problems).toEqual([]);
    });

    const bins = Object.keys(listBins(pkg.manifest));
    if (bins.length === 0) return;
    it(`installs executables that run: ${bins.join(", ")}`, async () => {
      const { consumerDir } = ready();
      for (const bin of bins) {
        const smoke = binSmoke[bin];
        expect(smoke, `add "${bin}" to binSmoke in this file`).toBeDefined();
        if (!smoke) continue;
        const result = await run(join(consumerDir, "node_modules", ".bin", bin), smoke.args, {
          cwd: consumerDir,
          env: { ...process.env, ...smoke.env },
        });
        expect(result.code, `${bin}: ${result.stderr}`).toBe(0);
        expect(result.stdout).toMatch(smoke.prints);
      }
    });
  },
);

it("compiles the declarations of every third-party dependency the packages pull in", () => {
  const { diagnostics, typeFiles } = ready();
  const ours = (file: string): boolean =>
    typeFiles.some((f) => f.path === file) ||
    publishable.some((p) => file.includes(`/node_modules/${p.name}/`));
  for (const setup of ["nodenext", "bundler"] as const) {
    expect(diagnostics[setup].filter((d) => !ours(d.file)).map((d) => d.text)).toEqual([]);
  }
});

/**
 * Packages that a consumer's install of each package must never bring along: the CNI plugin and
 * its lean client run on every node for every pod, and neither needs @grpc/grpc-js nor Raft.
 */
const mustNotInstall: Readonly<Record<string, readonly string[]>> = {
  "@ipam/grpc-client": ["@grpc/grpc-js", "@ipam/raft", "@ipam/grpc-server"],
  "@ipam/cni": ["@grpc/grpc-js", "@ipam/raft", "@ipam/grpc-server"],
  // @ipam/raft is an optional peer dependency: only `@ipam/grpc-server/raft` needs it.
  "@ipam/grpc-server": ["@ipam/raft"],
};

describe("dependency closures, as installed from the tarballs", () => {
  it.each(Object.entries(mustNotInstall))("%s installs none of %j", (name, forbidden) => {
    const closure = dependencyClosure(ready().consumerDir, name);
    expect(forbidden.filter((dependency) => closure.has(dependency))).toEqual([]);
  });

  it("(control) @ipam/grpc-server installs @grpc/grpc-js, so the checks above can fail", () => {
    const closure = dependencyClosure(ready().consumerDir, "@ipam/grpc-server");
    expect(closure.has("@grpc/grpc-js")).toBe(true);
    expect(closure.has("@ipam/grpc-client")).toBe(true);
  });
});
