/**
 * What `ipamctl`'s exit status means (docs/ipamctl.md, "Exit codes"). Scripts may rely on these
 * numbers: they only ever gain new values.
 */
export const EXIT = {
  /** The command did what was asked. */
  OK: 0,
  /** The command failed (the server answered with an error, an internal fault). */
  ERROR: 1,
  /** Bad usage: an unknown command or flag, a missing or malformed value. Nothing was changed. */
  USAGE: 2,
  /** `check` (or `repair`) found problems; the report lists them. */
  PROBLEMS: 3,
  /** No server (or agent) could be reached, or none answered in time. Nothing was changed. */
  UNREACHABLE: 4,
  /** Refused to protect what is stored: in use, a conflict, a holder still present (see --force). */
  REFUSED: 5,
  /** What was named (a subnet, node, address, member) does not exist. */
  NOT_FOUND: 6,
} as const;

/** One of the {@link EXIT} values. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
