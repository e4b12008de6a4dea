import { CniError } from "./cni-error.js";

/** CNI spec versions this plugin speaks, lowest first. */
export const SUPPORTED_VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;

/** One of {@link SUPPORTED_VERSIONS}. */
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];

/** The newest supported version: used for VERSION output and errors raised before a config is read. */
export const LATEST_VERSION: CniVersion = "1.1.0";

const SEMVER = /^(\d+)\.(\d+)\.(\d+)$/;

/** True when `value` is a version this plugin supports. */
export function isSupportedVersion(value: unknown): value is CniVersion {
  return typeof value === "string" && (SUPPORTED_VERSIONS as readonly string[]).includes(value);
}

/**
 * Compare two `MAJOR.MINOR.PATCH` versions numerically: negative when `a < b`, 0 when equal,
 * positive when `a > b`.
 *
 * @throws CniError `DECODE_FAILED` when either is not a `MAJOR.MINOR.PATCH` string.
 */
export function compareVersions(a: string, b: string): number {
  const pa = parse(a);
  const pb = parse(b);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function parse(version: string): number[] {
  const match = SEMVER.exec(version);
  if (match === null) {
    throw new CniError("DECODE_FAILED", `cniVersion: ${JSON.stringify(version)} is not a version`);
  }
  return [Number(match[1]), Number(match[2]), Number(match[3])];
}

/**
 * The version to speak for a network configuration.
 *
 * - `cniVersion`, when it is supported, wins: a runtime that negotiated writes its choice there.
 * - Otherwise the highest supported entry of `cniVersions` (CNI 1.1 negotiation).
 *
 * @throws CniError `INCOMPATIBLE_VERSION` when neither names a supported version (the details
 *   list what is supported); `DECODE_FAILED` when `cniVersions` is not a list of strings.
 */
export function negotiateVersion(cniVersion: unknown, cniVersions: unknown): CniVersion {
  if (isSupportedVersion(cniVersion)) return cniVersion;
  if (cniVersion !== undefined && typeof cniVersion !== "string") {
    throw new CniError("DECODE_FAILED", "cniVersion: must be a string");
  }
  if (cniVersions !== undefined) {
    if (!Array.isArray(cniVersions) || cniVersions.some((v) => typeof v !== "string")) {
      throw new CniError("DECODE_FAILED", "cniVersions: must be a list of version strings");
    }
    let best: CniVersion | undefined;
    for (const candidate of cniVersions) {
      if (
        isSupportedVersion(candidate) &&
        (best === undefined || compareVersions(candidate, best) > 0)
      ) {
        best = candidate;
      }
    }
    if (best !== undefined) return best;
  }
  const asked =
    cniVersion === undefined
      ? cniVersions === undefined
        ? "cniVersion is missing"
        : `none of cniVersions ${JSON.stringify(cniVersions)} is supported`
      : `cniVersion ${cniVersion} is not supported`;
  throw new CniError("INCOMPATIBLE_VERSION", `incompatible CNI versions: ${asked}`, {
    details: { supportedVersions: SUPPORTED_VERSIONS },
  });
}

/**
 * Throw unless `version` is at least `minimum`: CHECK needs 0.4.0, GC and STATUS need 1.1.0.
 *
 * @throws CniError `INCOMPATIBLE_VERSION` naming the verb.
 */
export function requireVersion(version: CniVersion, minimum: CniVersion, verb: string): void {
  if (compareVersions(version, minimum) < 0) {
    throw new CniError(
      "INCOMPATIBLE_VERSION",
      `config version ${version} does not allow ${verb} (needs ${minimum} or later)`,
      { details: { minimum } },
    );
  }
}
