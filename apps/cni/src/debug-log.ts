/** Something text can be written to (`process.stderr` fits). */
export interface TextSink {
  write(chunk: string): unknown;
}

/** A debug logger: one JSON object per line, or nothing at all when disabled. */
export interface DebugLog {
  readonly enabled: boolean;
  (msg: string, fields?: Readonly<Record<string, unknown>>): void;
}

/**
 * A logger writing JSON lines (`{"time","level":"debug","msg",...fields}`) to `sink` while
 * `isEnabled()` is true. It never throws: a field that cannot be serialised is dropped from the line.
 * The plugin only ever passes stderr here; stdout is reserved for the CNI result.
 */
export function createDebugLog(sink: TextSink, isEnabled: () => boolean): DebugLog {
  const log = ((msg: string, fields: Readonly<Record<string, unknown>> = {}) => {
    if (!isEnabled()) return;
    let line: string;
    try {
      line = JSON.stringify({ time: new Date().toISOString(), level: "debug", msg, ...fields });
    } catch {
      line = JSON.stringify({ time: new Date().toISOString(), level: "debug", msg });
    }
    sink.write(`${line}\n`);
  }) as DebugLog;
  Object.defineProperty(log, "enabled", { get: isEnabled });
  return log;
}
