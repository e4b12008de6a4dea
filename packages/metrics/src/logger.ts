/**
 * The logging this package needs: a structural subset of pino's `Logger`, so the daemon passes
 * its pino instance as is. Calls never throw back into the package's caller.
 */
export interface MetricsLogger {
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/** Message and code of an unknown thrown value, for a log line. */
export function describeError(error: unknown): Record<string, unknown> {
  if (error instanceof Error) {
    const code = (error as { readonly code?: unknown }).code;
    return code === undefined
      ? { err: { name: error.name, message: error.message } }
      : { err: { name: error.name, message: error.message, code } };
  }
  return { err: { message: String(error) } };
}
