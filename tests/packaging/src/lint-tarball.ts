import { readFileSync } from "node:fs";
import { checkPackage, createPackageFromTarballData } from "@arethetypeswrong/core";
import { problemKindInfo } from "@arethetypeswrong/core/problems";
import type { ProblemKind, ResolutionKind } from "@arethetypeswrong/core/types";
import { publint } from "publint";
import { formatMessage } from "publint/utils";
import type { Entrypoint } from "./entrypoints.js";

/** A linter's verdict on one tarball. */
export interface LintReport {
  /** Every problem, one line or block each, as the tool words it; empty when clean. */
  readonly problems: readonly string[];
}

/**
 * publint on the tarball, every message level (suggestions too), warnings as errors.
 * Never throws for a finding; throws when the tarball cannot be read.
 */
export async function runPublint(tarball: string): Promise<LintReport> {
  const bytes = readFileSync(tarball);
  const data = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const { messages, pkg } = await publint({
    pack: { tarball: data as ArrayBuffer },
    level: "suggestion",
    strict: true,
  });
  return {
    problems: messages.map(
      (message) =>
        `${message.type} ${message.code}: ${formatMessage(message, pkg, { color: false }) ?? JSON.stringify(message.args)}`,
    ),
  };
}

/**
 * How every package is held to attw (`@arethetypeswrong/core`, the engine of
 * `@arethetypeswrong/cli`, run in this process: one TypeScript load for all packages), and why.
 * The CLI equivalent is `attw <tarball> --profile node16 --ignore-rules cjs-resolves-to-esm`.
 *
 * - `node10` resolution is not checked (the CLI's `--profile node16`): TypeScript's legacy
 *   `moduleResolution: node10` ("node") cannot see subpath exports (`@ipam/raft/testing`) at
 *   all; consumers are on `nodenext` or `bundler`, which attw checks (from ESM and from CJS) and
 *   the tarball test compiles.
 * - `CJSResolvesToESM` is accepted (`--ignore-rules cjs-resolves-to-esm`): the packages are ES
 *   modules on purpose, and Node >= 20.19 (`engines`) loads them with `require()` without a
 *   flag; TypeScript >= 5.8 types that under `module: nodenext`. attw 0.18 reasons with
 *   TypeScript 5.6 and still calls it "dynamic import only". Every other CJS problem (a wrong
 *   `.d.cts`, a false ESM/CJS claim) still counts, and the tarball test proves `require()` and
 *   `.cts` types of every entry.
 * - Entries that are data files, not modules (`@ipam/topology/example-topology.yaml`), are not
 *   given to attw: they have no JavaScript or types to check; the tarball test checks that they
 *   resolve to a packed file.
 */
export const attwPolicy: {
  readonly ignoredResolutions: readonly ResolutionKind[];
  readonly ignoredProblems: readonly ProblemKind[];
} = {
  ignoredResolutions: ["node10"],
  ignoredProblems: ["CJSResolvesToESM"],
};

/**
 * attw on the tarball under {@link attwPolicy}, checking exactly the module and JSON `entries`.
 * Never throws for a finding; throws when the tarball cannot be read or has no types at all.
 */
export async function runAttw(
  tarball: string,
  entries: readonly Entrypoint[],
): Promise<LintReport> {
  const pkg = createPackageFromTarballData(new Uint8Array(readFileSync(tarball)));
  const entrypoints = entries
    .filter((entry) => entry.kind !== "file")
    .map((entry) => entry.subpath);
  const result = await checkPackage(pkg, { entrypoints });
  if (!result.types) throw new Error(`attw: ${tarball} ships no types`);
  const problems = result.problems.filter(
    (problem) =>
      !attwPolicy.ignoredProblems.includes(problem.kind) &&
      !(
        "resolutionKind" in problem &&
        attwPolicy.ignoredResolutions.includes(problem.resolutionKind)
      ),
  );
  return {
    problems: problems.map(
      (problem) => `${problemKindInfo[problem.kind].shortDescription}: ${JSON.stringify(problem)}`,
    ),
  };
}
