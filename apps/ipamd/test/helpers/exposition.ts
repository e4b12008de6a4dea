// Helpers for the daemon's /metrics text in tests.

/**
 * The part of a Prometheus text exposition that belongs to ipamd's own families (`ipamd_*`):
 * what `promtool check metrics` is run on. prom-client's default `process_*`/`nodejs_*` families
 * are left out: three of them are gauges named `_total`, which promtool reports.
 */
export function ownFamilies(exposition: string): string {
  const kept: string[] = [];
  let keep = false;
  for (const line of exposition.split("\n")) {
    const family = /^# (?:HELP|TYPE) (\S+)/.exec(line)?.[1];
    if (family !== undefined) keep = family.startsWith("ipamd_");
    else if (line !== "" && !line.startsWith("#")) keep = line.startsWith("ipamd_");
    if (keep && line !== "") kept.push(line);
  }
  return `${kept.join("\n")}\n`;
}

/** The names of the metric families (`# TYPE` lines) of an exposition. */
export function familyNames(exposition: string): string[] {
  return exposition
    .split("\n")
    .filter((l) => l.startsWith("# TYPE "))
    .map((l) => l.split(" ")[2] as string);
}
