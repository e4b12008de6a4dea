import { usageError } from "./cli-error.js";

const UNITS: Readonly<Record<string, number>> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

/**
 * A duration flag (`24h`, `90m`, `7d`, `2w`, `45s`) in ms.
 * @throws CliError (usage) naming `--flag`.
 */
export function parseDurationFlag(flag: string, value: string): number {
  const m = /^(\d+)([smhdw])$/.exec(value.trim());
  const ms = m === null ? Number.NaN : Number(m[1]) * (UNITS[m[2] as string] ?? Number.NaN);
  if (!Number.isSafeInteger(ms) || ms <= 0) {
    throw usageError(
      flag,
      `"${value}" is not a duration (a whole number and s, m, h, d or w: 24h)`,
    );
  }
  return ms;
}

/**
 * A point in time given to `--flag`, in Unix ms: an RFC 3339 / ISO 8601 date-time
 * (`2026-12-06T14:02:00Z`, `2026-12-06T14:02:00+01:00`), a date (`2026-12-06`, midnight UTC),
 * `now`, a time ago (`90m` or `-90m`: ninety minutes before `now`), or Unix seconds (`@1765029720`).
 * @throws CliError (usage) naming `--flag` and the accepted forms.
 */
export function parseTimeFlag(flag: string, value: string, now: number): number {
  const text = value.trim();
  if (text === "now") return now;
  const ago = /^-?(\d+)([smhdw])$/.exec(text);
  if (ago !== null) return now - parseDurationFlag(flag, `${ago[1]}${ago[2]}`);
  const unix = /^@(\d{1,12})$/.exec(text);
  if (unix !== null) return Number(unix[1]) * 1000;
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)) {
    // A date-time without a zone is read as UTC, like a date alone: never the local zone.
    const zoned = /T|\s/.test(text) && !/(Z|[+-]\d{2}:?\d{2})$/.test(text) ? `${text}Z` : text;
    const ms = Date.parse(zoned.replace(" ", "T"));
    if (Number.isFinite(ms) && ms >= 0) return ms;
  }
  throw usageError(
    flag,
    `"${value}" is not a time: give 2026-12-06T14:02:00Z (UTC unless it has an offset), a date, now, a time ago (90m, 2d) or @UNIX-SECONDS`,
  );
}

/** `ms` as an RFC 3339 UTC date-time with milliseconds. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** A rough human duration: `~40 seconds`, `~12 minutes`, `~5 hours`, `~3 days`, `~4 months`, `~2 years`. */
export function roughDuration(seconds: number): string {
  const round = (n: number, unit: string) => {
    const v = Math.max(1, Math.round(n));
    return `~${v} ${unit}${v === 1 ? "" : "s"}`;
  };
  if (seconds < 90) return round(seconds, "second");
  if (seconds < 90 * 60) return round(seconds / 60, "minute");
  if (seconds < 36 * 3600) return round(seconds / 3600, "hour");
  if (seconds < 60 * 86_400) return round(seconds / 86_400, "day");
  if (seconds < 730 * 86_400) return round(seconds / (30 * 86_400), "month");
  return round(seconds / (365 * 86_400), "year");
}

/** A window length as people say it: `24 h`, `90 min`, `3 d`, `40 s`. */
export function windowText(ms: number): string {
  const s = ms / 1000;
  if (s < 120) return `${Math.max(1, Math.round(s))} s`;
  if (s < 2 * 3600) return `${Math.round(s / 60)} min`;
  if (s < 3 * 86_400) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} d`;
}
