import { z } from "zod";
import { subnetConfigSchema } from "./config-schema.js";
import { formatPath } from "./create-topology.js";
import { issuesError } from "./errors.js";

/**
 * Runtime checks of operation inputs (callers may be plain JavaScript, or pass data received
 * over the network): unknown keys, wrong types. Field rules (id format, CIDRs, ...) are checked
 * by the operations themselves.
 */

const labels = z.record(z.string().min(1), z.string());

export const zoneInputSchema = z.strictObject({
  id: z.string(),
  name: z.string().optional(),
  labels: labels.optional(),
  subnetRanges: z.array(z.string()).optional(),
});

export const podInputSchema = zoneInputSchema.extend({ zone: z.string() });

export const torInputSchema = z.strictObject({
  id: z.string(),
  pod: z.string(),
  name: z.string().optional(),
  location: z.string().optional(),
  labels: labels.optional(),
});

export const nodeInputSchema = z.strictObject({
  id: z.string(),
  tor: z.string(),
  name: z.string().optional(),
  labels: labels.optional(),
});

export const subnetInputSchema = subnetConfigSchema.extend({
  scope: z.strictObject({ kind: z.enum(["zone", "pod", "tor"]), id: z.string() }),
});

/** @throws TopologyError `INVALID_ARGUMENT` naming every bad field of `input`. */
export function checkInput(schema: z.ZodType, input: unknown, what: string): void {
  const result = schema.safeParse(input);
  if (result.success) return;
  throw issuesError(
    "INVALID_ARGUMENT",
    `invalid ${what}`,
    result.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })),
  );
}
