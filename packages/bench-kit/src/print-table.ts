import type { BenchRow } from "./bench-row.js";

/**
 * Prints rows as an aligned text table (name, value, unit, p99, samples, ratio), one call of
 * `write` per line (default console.log). The ratio column shows `<ratio>x` where a baseline
 * ran, blank otherwise.
 */
export function printTable(
  rows: readonly BenchRow[],
  write: (line: string) => void = console.log,
): void {
  const header = ["name", "value", "unit", "p99", "samples", "ratio"];
  const lines = rows.map((r) => [
    r.name,
    String(r.value),
    r.unit,
    String(r.p99),
    String(r.samples),
    r.ratio === undefined ? "" : `${r.ratio}x`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const format = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  write(format(header));
  write(widths.map((w) => "-".repeat(w)).join("  "));
  for (const l of lines) write(format(l));
}
