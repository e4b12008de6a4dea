import Table from "cli-table3";
import picocolors from "picocolors";
import type { CliIo } from "./io.js";

/**
 * The version of every `--json` document ipamctl prints (its `apiVersion` field). A change that
 * removes or retypes a field makes a new version; adding an optional field does not.
 * The shapes: docs/ipamctl/schemas/*.json.
 */
export const API_VERSION = "ipamctl/v1";

/** picocolors' formatters: real ones on a colour terminal, identity functions otherwise. */
export type Colors = ReturnType<typeof picocolors.createColors>;

/** How a command prints its result: a versioned JSON document or text for a person. */
export interface Output {
  /** True with `--json`. */
  readonly json: boolean;
  /** Colour formatters (identity unless stdout is a TTY and NO_COLOR is unset). */
  readonly colors: Colors;
  /**
   * Prints the result once: with `--json` the document `{ apiVersion, kind, ...data }` on one
   * line, else `human(colors)` (a trailing newline is added when missing).
   */
  result(kind: string, data: object, human: (colors: Colors) => string): void;
  /** A line for a person on stderr (progress, warnings); never part of the result. */
  note(text: string): void;
}

/** True when colour should be used: stdout is a terminal and NO_COLOR is unset or empty. */
export function colourWanted(io: CliIo): boolean {
  return io.stdoutIsTTY && (io.env.NO_COLOR ?? "") === "";
}

/** The {@link Output} of a command run. */
export function createOutput(io: CliIo, json: boolean): Output {
  const colors = picocolors.createColors(!json && colourWanted(io));
  return {
    json,
    colors,
    result(kind, data, human) {
      if (json) {
        io.stdout.write(`${JSON.stringify({ apiVersion: API_VERSION, kind, ...data })}\n`);
        return;
      }
      const text = human(colors);
      io.stdout.write(text.endsWith("\n") || text === "" ? text : `${text}\n`);
    },
    note(text) {
      io.stderr.write(`${text}\n`);
    },
  };
}

const NO_BORDER = {
  top: "",
  "top-mid": "",
  "top-left": "",
  "top-right": "",
  bottom: "",
  "bottom-mid": "",
  "bottom-left": "",
  "bottom-right": "",
  left: "",
  "left-mid": "",
  mid: "",
  "mid-mid": "",
  right: "",
  "right-mid": "",
  middle: "  ",
};

/**
 * A borderless table (the kubectl look): an upper-case header row, columns two spaces apart.
 * `align` gives per-column alignment (numbers read best right-aligned).
 */
export function table(
  head: readonly string[],
  rows: readonly (readonly string[])[],
  colors: Colors,
  align: readonly ("left" | "right")[] = [],
): string {
  const t = new Table({
    head: head.map((h) => colors.bold(h.toUpperCase())),
    chars: NO_BORDER,
    style: { head: [], border: [], "padding-left": 0, "padding-right": 0 },
    colAligns: head.map((_, i) => align[i] ?? "left"),
  });
  for (const row of rows) t.push([...row]);
  return t
    .toString()
    .split("\n")
    .map((line) => line.trimEnd())
    .join("\n");
}

/**
 * A utilisation bar `[██████····]  61.2%` for `used` of `capacity` (decimal strings or bigints,
 * exact); an empty capacity shows `-`. Green below 70 %, yellow below 90 %, red from 90 %.
 */
export function bar(used: bigint, capacity: bigint, colors: Colors, width = 20): string {
  if (capacity <= 0n) return "-";
  const permille = Number((used * 1000n) / capacity);
  const filled = Math.min(width, Math.round((permille / 1000) * width));
  const paint = permille >= 900 ? colors.red : permille >= 700 ? colors.yellow : colors.green;
  const pct = `${(permille / 10).toFixed(1)}%`.padStart(6);
  return `${paint("█".repeat(filled))}${colors.dim("·".repeat(width - filled))} ${pct}`;
}
