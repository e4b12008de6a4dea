#!/usr/bin/env node
// `ipamd-cni-install` (dist/install-cni.cjs): puts the ipamd-cni executable and a CNI network list
// on a host, atomically. The agent DaemonSet's init container runs it with the host's root
// mounted at /host; a person can run it on a host as root. Flags, else IPAMD_CNI_* variables,
// else defaults. Exit 0 when installed (or already up to date), 2 for bad input, 1 when
// installing failed; in every failure the host's files are as they were.
import { readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CniError } from "./cni-error.js";
import { DEFAULT_CONFLIST, validateConflist } from "./conflist.js";
import { installCni, uninstallCni } from "./installer.js";

const PLUGIN_NAME = "ipamd-cni";

const USAGE = `Usage: ipamd-cni-install [options]
Installs the ipamd-cni plugin and a CNI network list on a host (each file replaced atomically).

  --host-root DIR       the host's / as mounted here         IPAMD_CNI_HOST_ROOT     (default /)
  --bin-dir DIR         CNI plugin folder on the host        IPAMD_CNI_BIN_DIR       (default /opt/cni/bin)
  --conf-dir DIR        CNI config folder on the host        IPAMD_CNI_CONF_DIR      (default /etc/cni/net.d)
  --plugin FILE         the executable to install            IPAMD_CNI_PLUGIN        (default ${PLUGIN_NAME}-${process.platform}-${process.arch} beside this file)
  --conflist FILE       the network list to write            IPAMD_CNI_CONFLIST      (default: bridge + portmap, see --print-conflist)
  --conflist-name NAME  its file name in the config folder   IPAMD_CNI_CONFLIST_NAME (default 10-ipamd.conflist)
  --uninstall           remove the network list, then the plugin
  --print-conflist      print the network list that would be written, and exit
  --json                print what was done as one JSON line
  --help                this text
`;

function print(fd: number, text: string): void {
  writeSync(fd, text.endsWith("\n") ? text : `${text}\n`);
}

const OPTIONS = {
  "host-root": { type: "string" },
  "bin-dir": { type: "string" },
  "conf-dir": { type: "string" },
  plugin: { type: "string" },
  conflist: { type: "string" },
  "conflist-name": { type: "string" },
  uninstall: { type: "boolean" },
  "print-conflist": { type: "boolean" },
  json: { type: "boolean" },
  help: { type: "boolean" },
} as const;

function main(argv: readonly string[], env: NodeJS.ProcessEnv): number {
  let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>["values"];
  try {
    values = parseArgs({ args: [...argv], options: OPTIONS }).values;
  } catch (error) {
    print(2, `ipamd-cni-install: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help === true) {
    print(1, USAGE);
    return 0;
  }
  const setting = (flag: keyof typeof OPTIONS, variable: string, fallback: string): string => {
    const value = values[flag];
    if (typeof value === "string") return value;
    const fromEnv = env[variable];
    return fromEnv === undefined || fromEnv === "" ? fallback : fromEnv;
  };
  const where = {
    hostRoot: setting("host-root", "IPAMD_CNI_HOST_ROOT", "/"),
    binDir: setting("bin-dir", "IPAMD_CNI_BIN_DIR", "/opt/cni/bin"),
    confDir: setting("conf-dir", "IPAMD_CNI_CONF_DIR", "/etc/cni/net.d"),
    pluginName: PLUGIN_NAME,
    conflistName: setting("conflist-name", "IPAMD_CNI_CONFLIST_NAME", "10-ipamd.conflist"),
  };
  try {
    if (values.uninstall === true) {
      const removed = uninstallCni(where);
      print(1, values.json === true ? JSON.stringify({ removed }) : removeText(removed));
      return 0;
    }
    const conflistFile = setting("conflist", "IPAMD_CNI_CONFLIST", "");
    let conflistText = JSON.stringify(DEFAULT_CONFLIST);
    if (conflistFile !== "") {
      try {
        conflistText = readFileSync(conflistFile, "utf8");
      } catch (error) {
        throw new CniError("INVALID_CONFIG", `cannot read it: ${(error as Error).message}`);
      }
    }
    let conflist: ReturnType<typeof validateConflist>;
    try {
      conflist = validateConflist(conflistText);
    } catch (error) {
      if (!(error instanceof CniError)) throw error;
      const source =
        conflistFile === "" ? "the built-in network list" : `--conflist ${conflistFile}`;
      throw new CniError("INVALID_CONFIG", `${source}: ${error.message}`, { cause: error });
    }
    if (values["print-conflist"] === true) {
      print(1, conflist.text);
      return 0;
    }
    const pluginSource = setting(
      "plugin",
      "IPAMD_CNI_PLUGIN",
      join(__dirname, `${PLUGIN_NAME}-${process.platform}-${process.arch}`),
    );
    const report = installCni({ ...where, pluginSource, conflist });
    print(
      1,
      values.json === true
        ? JSON.stringify(report)
        : [
            ...report.removedLeftovers.map((path) => `removed leftover ${path}`),
            `${report.plugin.action} ${report.plugin.path}`,
            `${report.conflist.action} ${report.conflist.path} (network ${conflist.name})`,
          ].join("\n"),
    );
    return 0;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    print(2, `ipamd-cni-install: ${message}`);
    return error instanceof CniError && error.code === "INVALID_CONFIG" ? 2 : 1;
  }
}

function removeText(removed: readonly string[]): string {
  return removed.length === 0 ? "nothing to remove" : removed.map((p) => `removed ${p}`).join("\n");
}

process.exitCode = main(process.argv.slice(2), process.env);
