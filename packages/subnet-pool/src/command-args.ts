import { BitmapError } from "@ipam/bitmap";
import { type Family, isStrategyName, type SubnetStrategy, TopologyError } from "@ipam/topology";
import type { AllocationKey } from "./allocation-key.js";
import type { CommandError } from "./commands.js";
import { PoolError } from "./pool-error.js";

// Argument checks and error mapping shared by the command handlers of ClusterState.

export function fail(
  code: PoolError["code"],
  message: string,
  details?: Record<string, unknown>,
): never {
  throw new PoolError(code, message, details === undefined ? undefined : { details });
}

/** `1 block`, `2 blocks`: a count with its noun, for messages. */
export function counted(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}

export function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function requireString(value: unknown, path: string): string {
  if (typeof value !== "string" || value === "")
    fail("INVALID_ARGUMENT", `${path}: must be a non-empty string`);
  return value;
}

export function requireFamily(value: unknown, path: string): Family {
  if (value !== 4 && value !== 6) fail("INVALID_ARGUMENT", `${path}: must be 4 or 6`);
  return value;
}

export function requireKey(value: unknown, path: string): AllocationKey {
  if (typeof value !== "object" || value === null)
    fail("INVALID_ARGUMENT", `${path}: must be an object`);
  const k = value as Record<string, unknown>;
  return {
    network: requireString(k.network, `${path}.network`),
    containerId: requireString(k.containerId, `${path}.containerId`),
    ifname: requireString(k.ifname, `${path}.ifname`),
  };
}

/**
 * A command's explicit strategy, or undefined: the purpose's strategy from the topology then
 * applies (see `purposeStrategy`).
 */
export function optionalStrategy(value: unknown, path: string): SubnetStrategy | undefined {
  if (value === undefined) return undefined;
  if (!isStrategyName(value))
    fail("INVALID_ARGUMENT", `${path}: must be "tor", "pod", "zone" or "spill" (= zone)`, {
      field: path,
    });
  return value;
}

/** A lease-block `order`: absent (= `first`), `first` or `least-used`. */
export function optionalOrder(value: unknown): "first" | "least-used" {
  if (value === undefined || value === "first") return "first";
  if (value !== "least-used")
    fail("INVALID_ARGUMENT", 'lease-block.order: must be "first" or "least-used"', {
      field: "order",
    });
  return value;
}

/** A lease-block `requestId`: absent, or a non-empty string of at most 128 characters. */
export function optionalRequestId(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value === "" || value.length > 128)
    fail("INVALID_ARGUMENT", "lease-block.requestId: must be a string of 1 to 128 characters");
  return value;
}

/** Maps any error thrown while applying a command to a {@link CommandError}. */
export function toCommandError(error: unknown): CommandError {
  if (error instanceof PoolError) {
    return { code: error.code, message: error.message, details: error.details ?? {} };
  }
  if (error instanceof TopologyError) {
    const code = error.code === "INVALID_CONFIG" ? "INVALID_ARGUMENT" : error.code;
    return { code, message: error.message, details: error.details ?? {} };
  }
  if (error instanceof BitmapError) {
    const code =
      error.code === "ALREADY_ALLOCATED"
        ? "CONFLICT"
        : error.code === "EXHAUSTED"
          ? "POOL_EXHAUSTED"
          : "INVALID_ARGUMENT";
    return { code, message: error.message, details: error.details ?? {} };
  }
  const message = error instanceof Error ? error.message : String(error);
  return {
    code: "INTERNAL",
    message: `internal error (command rolled back): ${message}`,
    details: {},
  };
}
