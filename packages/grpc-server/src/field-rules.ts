import type { DescEnum, DescMessage, MessageShape } from "@bufbuild/protobuf";
import { GrpcError } from "@ipam/grpc-client";

// The vocabulary of request limits: one rule per field, checked before a handler runs. The
// tables that use it, one per method, are in request-limits.ts.

/** A limit on one request field. */
export interface FieldRule<T> {
  /** The limit in words, as docs/grpc.md and error messages show it (`at most 255 characters`). */
  readonly limit: string;
  /**
   * Why `value` breaks the limit (`1048576 characters`), or undefined when it keeps it. Nested
   * rules (lists, maps, messages) throw themselves with the nested field's path.
   */
  readonly problem: (value: T, path: string) => string | undefined;
  /** For a message field (or a list of messages): the limits of its own fields. */
  readonly children?: MessageLimits;
}

/** Every field of message `D` with its rule: a table that misses a field does not compile. */
export type MessageRules<D extends DescMessage> = {
  readonly [K in Exclude<keyof MessageShape<D>, "$typeName" | "$unknown">]-?: FieldRule<
    MessageShape<D>[K]
  >;
};

/** A message's rules bound to its descriptor (for field names in messages and docs). */
export interface MessageLimits<D extends DescMessage = DescMessage> {
  readonly schema: D;
  readonly rules: MessageRules<D>;
}

const SHOWN_CHARACTERS = 40;

/** A value quoted for an error message, cut short: errors must not echo megabytes back. */
function shown(value: string): string {
  const cut = value.length > SHOWN_CHARACTERS ? `${value.slice(0, SHOWN_CHARACTERS)}…` : value;
  return JSON.stringify(cut);
}

/** Throws `INVALID_ARGUMENT` naming the field, what is wrong and the limit. */
export function fieldError(path: string, problem: string, limit: string): GrpcError {
  return new GrpcError("INVALID_ARGUMENT", `${path}: ${problem}; limit: ${limit}`, {
    details: { field: path, limit },
  });
}

/** Options of {@link text}. */
export interface TextOptions {
  /** Most UTF-16 code units (ASCII characters for the patterned fields). */
  readonly maxLength?: number;
  /** Most UTF-8 bytes (for free text, where characters and bytes differ). */
  readonly maxBytes?: number;
  /** A non-empty value must match. */
  readonly pattern?: RegExp;
  /** The pattern in words (`a letter or digit, then letters, digits, '_', '.', '-'`). */
  readonly patternText?: string;
  /** Extra check on a non-empty value that passed the pattern; returns the problem. */
  readonly refine?: (value: string) => string | undefined;
}

/**
 * A string field. The empty string always passes: it means "not given", and whether a field is
 * required is the handler's business (it names the field too).
 */
export function text(options: TextOptions): FieldRule<string> {
  const parts: string[] = [];
  if (options.maxLength !== undefined) parts.push(`at most ${options.maxLength} characters`);
  if (options.maxBytes !== undefined) parts.push(`at most ${options.maxBytes} bytes (UTF-8)`);
  if (options.patternText !== undefined) parts.push(options.patternText);
  const limit = parts.join(", ");
  return {
    limit,
    problem: (value) => {
      if (value === "") return undefined;
      if (options.maxLength !== undefined && value.length > options.maxLength) {
        return `${value.length} characters`;
      }
      if (options.maxBytes !== undefined) {
        // Cheap bound first: a string of n code units has at most 3n UTF-8 bytes.
        if (value.length * 3 > options.maxBytes) {
          const bytes = Buffer.byteLength(value, "utf8");
          if (bytes > options.maxBytes) return `${bytes} bytes`;
        }
      }
      if (options.pattern !== undefined && !options.pattern.test(value)) {
        return `${shown(value)} is not allowed`;
      }
      const refined = options.refine?.(value);
      return refined === undefined ? undefined : `${shown(value)} ${refined}`;
    },
  };
}

/** An enum field: one of the values the enum defines (proto3 enums accept any int32). */
export function enumValue(schema: DescEnum): FieldRule<number> {
  const numbers = new Set(schema.values.map((v) => v.number));
  return {
    limit: `one of ${schema.values.map((v) => v.name).join(", ")}`,
    problem: (value) =>
      numbers.has(value) ? undefined : `${value} is not a value of ${schema.name}`,
  };
}

/** An unsigned integer field with an upper bound. */
export function atMost(max: number, unit = ""): FieldRule<number> {
  const suffix = unit === "" ? "" : ` ${unit}`;
  return {
    limit: `at most ${max}${suffix}`,
    problem: (value) => (value > max ? `${value}${suffix}` : undefined),
  };
}

/**
 * A field whose every value is acceptable (booleans, versions, priorities): listed so that every
 * field has a documented limit, even when the limit is its type.
 */
export function anyValue<T>(limit: string): FieldRule<T> {
  return { limit, problem: () => undefined };
}

/** A repeated field: at most `maxItems` items, each checked by `item`. */
export function list<T>(maxItems: number, item: FieldRule<T>): FieldRule<readonly T[]> {
  return {
    limit: `at most ${maxItems} items, each ${item.limit}`,
    ...(item.children === undefined ? {} : { children: item.children }),
    problem: (values, path) => {
      if (values.length > maxItems) return `${values.length} items`;
      for (let i = 0; i < values.length; i++) {
        const itemPath = `${path}[${i}]`;
        const problem = item.problem(values[i] as T, itemPath);
        if (problem !== undefined) throw fieldError(itemPath, problem, item.limit);
      }
      return undefined;
    },
  };
}

/** A map field: at most `maxEntries` entries; keys and values checked by their rules. */
export function entries(
  maxEntries: number,
  key: FieldRule<string>,
  value: FieldRule<string>,
): FieldRule<{ readonly [k: string]: string }> {
  return {
    limit: `at most ${maxEntries} entries; keys ${key.limit}; values ${value.limit}`,
    problem: (map, path) => {
      const keys = Object.keys(map);
      if (keys.length > maxEntries) return `${keys.length} entries`;
      for (const k of keys) {
        const keyProblem = k === "" ? "the empty key" : key.problem(k, path);
        if (keyProblem !== undefined) throw fieldError(`${path} key`, keyProblem, key.limit);
        const valuePath = `${path}[${JSON.stringify(k)}]`;
        const valueProblem = value.problem(map[k] as string, valuePath);
        if (valueProblem !== undefined) throw fieldError(valuePath, valueProblem, value.limit);
      }
      return undefined;
    },
  };
}

/** A message field (absent passes): its own fields checked by `limits`. */
export function nested<D extends DescMessage>(
  limits: MessageLimits<D>,
): FieldRule<MessageShape<D> | undefined> {
  return {
    limit: `${limits.schema.name} (fields below)`,
    children: limits as unknown as MessageLimits,
    problem: (value, path) => {
      if (value !== undefined) checkMessage(limits, value, `${path}.`);
      return undefined;
    },
  };
}

/** Binds a rule table to its message descriptor. */
export function messageLimits<D extends DescMessage>(
  schema: D,
  rules: MessageRules<D>,
): MessageLimits<D> {
  return { schema, rules };
}

/**
 * Checks every field of `message` against `limits`, in field order.
 *
 * @throws GrpcError `INVALID_ARGUMENT` naming the first field out of its limit (`items[2].ifname`,
 *   proto field names), what is wrong and the limit; `details` carries `field` and `limit`.
 */
export function checkMessage<D extends DescMessage>(
  limits: MessageLimits<D>,
  message: MessageShape<D>,
  prefix = "",
): void {
  const values = message as unknown as Readonly<Record<string, unknown>>;
  for (const { localName, name, rule } of checksOf(limits)) {
    // A top-level field's path is its name: no string is built for it on every request.
    const path = prefix === "" ? name : `${prefix}${name}`;
    const problem = rule.problem(values[localName], path);
    if (problem !== undefined) throw fieldError(path, problem, rule.limit);
  }
}

/** One field's check: its names and its rule, in field order. */
interface FieldCheck {
  readonly localName: string;
  readonly name: string;
  readonly rule: FieldRule<unknown>;
}

const CHECKS = new WeakMap<MessageLimits, readonly FieldCheck[]>();

/** The checks of a rule table, built once per table (checked on every request). */
function checksOf(limits: MessageLimits): readonly FieldCheck[] {
  let checks = CHECKS.get(limits);
  if (checks === undefined) {
    const rules = limits.rules as unknown as Readonly<Record<string, FieldRule<unknown>>>;
    checks = limits.schema.fields.flatMap((field) => {
      const rule = rules[field.localName];
      // A field without a rule cannot happen for a table that compiles.
      return rule === undefined ? [] : [{ localName: field.localName, name: field.name, rule }];
    });
    CHECKS.set(limits, checks);
  }
  return checks;
}
