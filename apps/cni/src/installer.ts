import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { CniError } from "./cni-error.js";
import type { ValidConflist } from "./conflist.js";

/** Where and what {@link installCni} installs. Every path is absolute. */
export interface InstallOptions {
  /** The host's root as this process sees it (`/host` in the init container, `/` on the host). */
  readonly hostRoot: string;
  /** The CNI plugin folder on the host, below `hostRoot`; usually `/opt/cni/bin`. */
  readonly binDir: string;
  /** The CNI configuration folder on the host, below `hostRoot`; usually `/etc/cni/net.d`. */
  readonly confDir: string;
  /** The plugin executable to install (the single executable, `ipamd-cni-linux-x64`). */
  readonly pluginSource: string;
  /** The installed plugin's file name: the `ipam.type` of the conflist (`ipamd-cni`). */
  readonly pluginName: string;
  /** The validated network list. */
  readonly conflist: ValidConflist;
  /** Its file name in `confDir` (`10-ipamd.conflist`). */
  readonly conflistName: string;
}

/** What one install did, path by path (paths as this process sees them). */
export interface InstallReport {
  readonly plugin: { readonly path: string; readonly action: "installed" | "unchanged" };
  readonly conflist: { readonly path: string; readonly action: "written" | "unchanged" };
  /** Temporary files of an earlier, interrupted install that were removed. */
  readonly removedLeftovers: readonly string[];
}

/** Where {@link uninstallCni} removes from. */
export type UninstallOptions = Pick<
  InstallOptions,
  "hostRoot" | "binDir" | "confDir" | "pluginName" | "conflistName"
>;

function ioFailure(step: string, cause: unknown): CniError {
  const message = cause instanceof Error ? cause.message : String(cause);
  return new CniError("IO_FAILURE", `${step}: ${message}`, { cause, details: { step } });
}

function checkPaths(options: UninstallOptions): void {
  for (const [field, path] of [
    ["hostRoot", options.hostRoot],
    ["binDir", options.binDir],
    ["confDir", options.confDir],
  ] as const) {
    if (!isAbsolute(path)) {
      throw new CniError("INVALID_CONFIG", `${field}: ${JSON.stringify(path)} is not absolute`, {
        details: { field },
      });
    }
  }
  for (const [field, name] of [
    ["pluginName", options.pluginName],
    ["conflistName", options.conflistName],
  ] as const) {
    if (name === "" || name.includes("/") || name.startsWith(".")) {
      throw new CniError("INVALID_CONFIG", `${field}: ${JSON.stringify(name)} is not a file name`, {
        details: { field },
      });
    }
  }
  if (!options.conflistName.endsWith(".conflist")) {
    throw new CniError(
      "INVALID_CONFIG",
      `conflistName: ${JSON.stringify(options.conflistName)} must end in .conflist (runtimes read only .conf, .conflist and .json, and this is a list)`,
      { details: { field: "conflistName" } },
    );
  }
}

/** `name`'s temporary sibling; a runtime ignores it (leading dot, no .conf/.conflist suffix). */
function temporaryOf(dir: string, name: string): string {
  return join(dir, `.${name}.${process.pid}.tmp`);
}

/** Removes `.name.<pid>.tmp` files an interrupted install left in `dir`. */
function removeLeftovers(dir: string, name: string): string[] {
  const pattern = new RegExp(`^\\.${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\.\\d+\\.tmp$`);
  const removed: string[] = [];
  for (const entry of readdirSync(dir)) {
    if (!pattern.test(entry)) continue;
    rmSync(join(dir, entry), { force: true });
    removed.push(join(dir, entry));
  }
  return removed;
}

function fsyncPath(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function sameContent(a: string, b: string): boolean {
  if (!existsSync(b)) return false;
  if (statSync(a).size !== statSync(b).size) return false;
  const digest = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
  return digest(a) === digest(b);
}

/**
 * Runs `executable` as a runtime would for CNI VERSION.
 * @throws CniError `PLUGIN_NOT_AVAILABLE` when it does not answer with its supported versions.
 */
function checkAnswersVersion(executable: string, shownAs: string): void {
  const run = spawnSync(executable, [], {
    input: '{"cniVersion":"1.1.0"}',
    env: { CNI_COMMAND: "VERSION" },
    encoding: "utf8",
    timeout: 30_000,
  });
  let versions: unknown;
  try {
    versions = (JSON.parse(run.stdout) as { supportedVersions?: unknown }).supportedVersions;
  } catch {
    versions = undefined;
  }
  if (run.status !== 0 || !Array.isArray(versions)) {
    const why =
      run.status === null
        ? (run.error?.message ?? `killed by ${run.signal}`)
        : `exit ${run.status}, answered ${JSON.stringify(`${run.stdout}${run.stderr}`.slice(0, 200))}`;
    throw new CniError(
      "PLUGIN_NOT_AVAILABLE",
      `${shownAs} does not answer CNI VERSION (${why}); nothing was installed`,
      { details: { plugin: shownAs } },
    );
  }
}

/** Writes `write`'s file as `dir/name` atomically: temporary sibling, fsync, rename, fsync dir. */
function replaceAtomically(
  dir: string,
  name: string,
  write: (temporary: string) => void,
  verify?: (temporary: string) => void,
): string {
  const target = join(dir, name);
  const temporary = temporaryOf(dir, name);
  try {
    write(temporary);
    fsyncPath(temporary);
    verify?.(temporary);
    renameSync(temporary, target);
    fsyncPath(dir);
  } catch (error) {
    rmSync(temporary, { force: true });
    if (error instanceof CniError) throw error;
    throw ioFailure(`writing ${target}`, error);
  }
  return target;
}

/**
 * Installs the plugin executable, then the network list, into the host folders below
 * `hostRoot`. Each file is replaced atomically (a runtime sees the old file or the new one,
 * never a partial one), the plugin first: a runtime that sees the new list already finds the
 * plugin it names. The copied executable must answer CNI VERSION before it replaces anything.
 * A file whose content is already the same is left untouched. Temporary files of an
 * interrupted earlier install are removed.
 *
 * @throws CniError `INVALID_CONFIG` (a bad path or name), `PLUGIN_NOT_AVAILABLE` (the executable
 *   is missing or does not run here), `IO_FAILURE` (a folder is not writable, the disk is full);
 *   on any of them the host's existing files are as they were.
 */
export function installCni(options: InstallOptions): InstallReport {
  checkPaths(options);
  if (!existsSync(options.pluginSource)) {
    throw new CniError(
      "PLUGIN_NOT_AVAILABLE",
      `pluginSource: ${options.pluginSource} does not exist (build it with pnpm --filter @ipam/cni build)`,
      { details: { field: "pluginSource" } },
    );
  }
  const binDir = join(options.hostRoot, options.binDir);
  const confDir = join(options.hostRoot, options.confDir);
  try {
    mkdirSync(binDir, { recursive: true, mode: 0o755 });
    mkdirSync(confDir, { recursive: true, mode: 0o755 });
  } catch (error) {
    throw ioFailure("creating the CNI folders", error);
  }
  const removedLeftovers = [
    ...removeLeftovers(binDir, options.pluginName),
    ...removeLeftovers(confDir, options.conflistName),
  ];

  const pluginPath = join(binDir, options.pluginName);
  let pluginAction: InstallReport["plugin"]["action"] = "unchanged";
  if (!sameContent(options.pluginSource, pluginPath)) {
    replaceAtomically(
      binDir,
      options.pluginName,
      (temporary) => {
        copyFileSync(options.pluginSource, temporary);
        // copyFileSync keeps the source's mode; the runtime needs to execute it.
        chmodSync(temporary, 0o755);
      },
      (temporary) => checkAnswersVersion(temporary, options.pluginSource),
    );
    pluginAction = "installed";
  }

  const conflistPath = join(confDir, options.conflistName);
  let conflistAction: InstallReport["conflist"]["action"] = "unchanged";
  const current = existsSync(conflistPath) ? readFileSync(conflistPath, "utf8") : undefined;
  if (current !== options.conflist.text) {
    replaceAtomically(confDir, options.conflistName, (temporary) =>
      writeFileSync(temporary, options.conflist.text, { mode: 0o644 }),
    );
    conflistAction = "written";
  }
  return {
    plugin: { path: pluginPath, action: pluginAction },
    conflist: { path: conflistPath, action: conflistAction },
    removedLeftovers,
  };
}

/**
 * Removes the network list, then the plugin (the reverse order of {@link installCni}: no moment
 * where a list names a missing plugin). Missing files are fine.
 * @returns the paths removed.
 * @throws CniError `INVALID_CONFIG` for a bad path or name, `IO_FAILURE` when removing fails.
 */
export function uninstallCni(options: UninstallOptions): string[] {
  checkPaths(options);
  const removed: string[] = [];
  for (const path of [
    join(options.hostRoot, options.confDir, options.conflistName),
    join(options.hostRoot, options.binDir, options.pluginName),
  ]) {
    if (!existsSync(path)) continue;
    try {
      rmSync(path);
      fsyncPath(dirname(path));
    } catch (error) {
      throw ioFailure(`removing ${path}`, error);
    }
    removed.push(path);
  }
  return removed;
}
