import { type ErrorKind, IpamError, type IpamErrorOptions } from "@ipam/errors";

/**
 * Stable error codes of @ipam/topology.
 *
 * - `INVALID_CONFIG`: a configuration document (text or object) was rejected; `details.issues`
 *   lists every problem found, each with the path of the offending field.
 * - `INVALID_ARGUMENT`: an operation received malformed input (bad CIDR, gateway outside its
 *   subnet, ...); `details.issues` names the field.
 * - `NOT_FOUND`: an operation or query named a zone, pod, TOR, node or subnet that does not exist.
 * - `CONFLICT`: an operation would break a uniqueness rule (duplicate id, overlapping subnets,
 *   a node already registered under another TOR).
 */
export type TopologyErrorCode = "INVALID_CONFIG" | "INVALID_ARGUMENT" | "NOT_FOUND" | "CONFLICT";

/** One problem found while validating, addressed by a field path such as `zones[0].pods[1].id`. */
export interface TopologyIssue {
  readonly path: string;
  readonly message: string;
}

/** The single error class of @ipam/topology. Callers branch on `code`, never on `message`. */
export class TopologyError extends IpamError<TopologyErrorCode> {
  static override readonly errorName = "TopologyError";
  /** The kind of each code (see `ErrorKind` in @ipam/errors). */
  static readonly kinds: Readonly<Record<TopologyErrorCode, ErrorKind>> = {
    INVALID_CONFIG: "INVALID_ARGUMENT",
    INVALID_ARGUMENT: "INVALID_ARGUMENT",
    NOT_FOUND: "NOT_FOUND",
    CONFLICT: "CONFLICT",
  };

  constructor(code: TopologyErrorCode, message: string, options?: IpamErrorOptions) {
    super(code, message, options);
  }

  /** The issues carried in `details.issues`, or an empty array when there are none. */
  get issues(): readonly TopologyIssue[] {
    const issues = this.details?.issues;
    return Array.isArray(issues) ? (issues as TopologyIssue[]) : [];
  }
}

/** Formats issues as `path: message` lines; the text used in error messages. */
export function formatIssues(issues: readonly TopologyIssue[]): string {
  return issues.map((i) => (i.path === "" ? i.message : `${i.path}: ${i.message}`)).join("\n");
}

/**
 * Builds a TopologyError whose message lists every issue.
 * `summary` is the first line (e.g. `invalid topology config (3 problems)`).
 */
export function issuesError(
  code: TopologyErrorCode,
  summary: string,
  issues: readonly TopologyIssue[],
  options?: ErrorOptions,
): TopologyError {
  const frozen = issues.map((i) => Object.freeze({ path: i.path, message: i.message }));
  return new TopologyError(code, `${summary}:\n${formatIssues(frozen)}`, {
    details: { issues: Object.freeze(frozen) },
    ...options,
  });
}
