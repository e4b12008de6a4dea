import { writeSync } from "node:fs";

// `--log-format pretty`: pino's JSON lines turned into lines for reading by eye, e.g.
//   18:04:05.123 INFO  [agent] block leased block=10.99.0.64/26 subnet=tor-a1-1-default-v4
// Errors show their message (and their stack at error and fatal). pino-pretty is not a
// dependency of the daemon; this is the small subset it needs.

const LEVELS: Readonly<Record<number, string>> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO",
  40: "WARN",
  50: "ERROR",
  60: "FATAL",
};

const COLOURS: Readonly<Record<number, string>> = {
  10: "\u001b[90m",
  20: "\u001b[36m",
  30: "\u001b[32m",
  40: "\u001b[33m",
  50: "\u001b[31m",
  60: "\u001b[35m",
};
const RESET = "\u001b[0m";

/** Fields every line carries or the layout shows already. */
const SHOWN = new Set(["level", "time", "msg", "component", "node", "pid", "hostname"]);

function pad2(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

function clock(ms: number): string {
  const d = new Date(ms);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}.${pad2(d.getMilliseconds(), 3)}`;
}

function valueText(value: unknown): string {
  if (typeof value === "string") return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

interface LoggedError {
  readonly message?: unknown;
  readonly code?: unknown;
  readonly stack?: unknown;
}

/**
 * One pino JSON line as a human line (without the newline). A line that is not a JSON object is
 * returned as it is.
 */
export function prettyLine(json: string, colours = false): string {
  let o: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(json);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return json;
    o = parsed as Record<string, unknown>;
  } catch {
    return json;
  }
  const level = typeof o.level === "number" ? o.level : 30;
  const name = (LEVELS[level] ?? `L${level}`).padEnd(5);
  const head = [
    typeof o.time === "number" ? clock(o.time) : "",
    colours ? `${COLOURS[level] ?? ""}${name}${RESET}` : name,
    typeof o.component === "string" ? `[${o.component}]` : "",
    typeof o.msg === "string" ? o.msg : "",
  ].filter((s) => s !== "");
  const tail: string[] = [];
  let stack = "";
  for (const [key, value] of Object.entries(o)) {
    if (SHOWN.has(key) || value === undefined) continue;
    if ((key === "err" || key === "error") && typeof value === "object" && value !== null) {
      const e = value as LoggedError;
      const code = typeof e.code === "string" ? ` (${e.code})` : "";
      tail.push(`${key}=${valueText(`${String(e.message ?? "")}${code}`)}`);
      if (level >= 50 && typeof e.stack === "string")
        stack = `\n    ${e.stack.split("\n").join("\n    ")}`;
      continue;
    }
    tail.push(`${key}=${valueText(value)}`);
  }
  return `${[...head, ...tail].join(" ")}${stack}`;
}

/**
 * A pino destination that writes {@link prettyLine}s to `fd` synchronously (like
 * `pino.destination({ sync: true })`), coloured when `colours`.
 */
export function prettyDestination(fd: number, colours: boolean): { write(chunk: string): void } {
  return {
    write(chunk: string): void {
      let out = "";
      for (const line of chunk.split("\n")) {
        if (line !== "") out += `${prettyLine(line, colours)}\n`;
      }
      if (out !== "") writeSync(fd, out);
    },
  };
}
