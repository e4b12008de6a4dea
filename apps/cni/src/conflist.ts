import { CniError } from "./cni-error.js";
import { decodeConf, parseNetConf } from "./net-conf.js";

/**
 * The network list the installer writes when it is given none: `bridge` delegating IPAM to
 * ipamd-cni (dual-stack, purpose `default`, ipamd's default socket), then `portmap` for
 * `hostPort`. Both main plugins come with the reference plugins (`containernetworking-plugins`)
 * that a node's runtime installs.
 */
export const DEFAULT_CONFLIST = {
  cniVersion: "1.0.0",
  name: "ipamd",
  plugins: [
    {
      type: "bridge",
      bridge: "cni0",
      isGateway: true,
      ipMasq: true,
      hairpinMode: true,
      ipam: { type: "ipamd-cni", purpose: "default", families: ["ipv4", "ipv6"] },
    },
    { type: "portmap", capabilities: { portMappings: true }, snat: true },
  ],
} as const;

/** A network configuration list that passed {@link validateConflist}. */
export interface ValidConflist {
  /** The network's `name`. */
  readonly name: string;
  /** Indexes into `plugins` of the entries whose `ipam.type` is `ipamd-cni`. */
  readonly ipamdPlugins: readonly number[];
  /** The text to write: the input re-serialized (2-space JSON, final newline). */
  readonly text: string;
}

/** The CNI spec's network name rule. */
const NETWORK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

function invalid(field: string, problem: string): CniError {
  return new CniError("INVALID_CONFIG", `${field}: ${problem}`, { details: { field } });
}

function isObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Checks a CNI network configuration list (a `.conflist`) before it is put where a runtime reads
 * it: JSON object, `cniVersion`, `name`, a non-empty `plugins` list with a `type` on each, and at
 * least one plugin whose `ipam.type` is `ipamd-cni`. Each of those `ipam` sections is checked
 * exactly as the plugin will check it on ADD (with the list's `name` and `cniVersion`, as the
 * runtime passes them), so a list the installer accepts is one the plugin accepts.
 *
 * @throws CniError `INVALID_CONFIG` (or the plugin's own `UNSUPPORTED_FIELD` /
 *   `INCOMPATIBLE_VERSION`) with a message naming the field, e.g. `plugins[0].ipam.families[1]`.
 */
export function validateConflist(text: string): ValidConflist {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new CniError("INVALID_CONFIG", `not JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (!isObject(raw)) throw invalid("(document)", "must be a JSON object (a network list)");
  if (typeof raw.cniVersion !== "string" || raw.cniVersion === "") {
    throw invalid("cniVersion", 'required (e.g. "1.0.0")');
  }
  if (typeof raw.name !== "string" || raw.name === "") throw invalid("name", "required");
  if (!NETWORK_NAME.test(raw.name)) {
    throw invalid(
      "name",
      `${JSON.stringify(raw.name)} is not a network name (letters, digits, _ . -)`,
    );
  }
  const plugins = raw.plugins;
  if (!Array.isArray(plugins) || plugins.length === 0) {
    throw invalid("plugins", "must be a non-empty list (a single-plugin .conf is not supported)");
  }
  const ipamdPlugins: number[] = [];
  plugins.forEach((plugin: unknown, i) => {
    if (!isObject(plugin)) throw invalid(`plugins[${i}]`, "must be an object");
    if (typeof plugin.type !== "string" || plugin.type === "") {
      throw invalid(`plugins[${i}].type`, "required (the plugin's executable name)");
    }
    const ipam = plugin.ipam;
    if (!isObject(ipam) || ipam.type !== "ipamd-cni") return;
    const stdin = JSON.stringify({ ...plugin, cniVersion: raw.cniVersion, name: raw.name });
    try {
      parseNetConf(decodeConf(stdin));
    } catch (error) {
      if (!(error instanceof CniError)) throw error;
      throw new CniError(error.code, `plugins[${i}].${error.message}`, {
        cause: error,
        details: { field: `plugins[${i}]` },
      });
    }
    ipamdPlugins.push(i);
  });
  if (ipamdPlugins.length === 0) {
    throw invalid(
      "plugins[*].ipam.type",
      'no plugin delegates IPAM to ipamd-cni: set "ipam": {"type": "ipamd-cni"} on the main plugin',
    );
  }
  return { name: raw.name, ipamdPlugins, text: `${JSON.stringify(raw, null, 2)}\n` };
}
