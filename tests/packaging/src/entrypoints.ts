import type { PackageManifest } from "./workspace.js";

/**
 * What an export is: a JavaScript `module` (checked with import, require, types and attw), a
 * `json` file (import with `type: "json"`, require, types), or a data `file` such as YAML that
 * consumers read from disk after resolving its path (checked to resolve and exist).
 */
export type EntrypointKind = "module" | "json" | "file";

/** One entry of a package's `exports` map. */
export interface Entrypoint {
  /** The `exports` key: `"."`, `"./testing"`, `"./package.json"`. */
  readonly subpath: string;
  /** What a consumer writes: `@ipam/raft`, `@ipam/raft/testing`. */
  readonly specifier: string;
  readonly kind: EntrypointKind;
  /** The file the entry points at for `import` (or its only target). */
  readonly target: string;
}

const moduleExtensions = [".js", ".mjs", ".cjs"];

/**
 * The entries of `manifest.exports`, in map order. A string `exports` is the `"."` entry.
 * Throws, naming the package and the key, for what these checks cannot enumerate: a missing
 * `exports`, a subpath pattern (`"./*"`), or an entry with no file target.
 */
export function listEntrypoints(manifest: PackageManifest): Entrypoint[] {
  const { exports } = manifest;
  if (exports === undefined) throw new Error(`${manifest.name}: package.json has no "exports"`);
  const map: Record<string, unknown> =
    typeof exports === "string" || Array.isArray(exports)
      ? { ".": exports }
      : (exports as Record<string, unknown>);
  return Object.entries(map).map(([subpath, value]) => {
    if (subpath.includes("*")) {
      throw new Error(
        `${manifest.name}: exports["${subpath}"] is a pattern; list each entry so it can be checked`,
      );
    }
    const target = importTarget(value);
    if (target === undefined) {
      throw new Error(`${manifest.name}: exports["${subpath}"] names no file`);
    }
    const kind: EntrypointKind = moduleExtensions.some((ext) => target.endsWith(ext))
      ? "module"
      : target.endsWith(".json")
        ? "json"
        : "file";
    const specifier = subpath === "." ? manifest.name : `${manifest.name}/${subpath.slice(2)}`;
    return { subpath, specifier, kind, target };
  });
}

/**
 * The file an `import` of an export resolves to, following Node's condition order for the
 * conditions `import`, `node`, `default` (`types` is not a runtime target).
 */
function importTarget(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) {
    for (const item of value) {
      const target = importTarget(item);
      if (target !== undefined) return target;
    }
    return undefined;
  }
  if (value === null || typeof value !== "object") return undefined;
  for (const [condition, nested] of Object.entries(value)) {
    if (condition === "import" || condition === "node" || condition === "default") {
      const target = importTarget(nested);
      if (target !== undefined) return target;
    }
  }
  return undefined;
}

/** The executables a package installs: `bin` name → path inside the package. */
export function listBins(manifest: PackageManifest): Record<string, string> {
  const { bin } = manifest;
  if (bin === undefined) return {};
  if (typeof bin === "string") return { [manifest.name.replace(/^@[^/]+\//, "")]: bin };
  return { ...bin };
}
