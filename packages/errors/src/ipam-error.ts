import { type ErrorKind, isErrorKind } from "./error-kind.js";

/** Options every ipamd error class takes beyond the standard `cause`. */
export interface IpamErrorOptions extends ErrorOptions {
  /** Structured facts a caller can act on (`field`, `leaderAddress`, `issues`, ...). */
  readonly details?: Readonly<Record<string, unknown>> | undefined;
}

/** Options of a bare {@link IpamError} (one whose class has no table of kinds). */
export interface IpamErrorKindOptions extends IpamErrorOptions {
  /** The kind; without it the code's own name when that is a kind, else `INTERNAL`. */
  readonly kind?: ErrorKind;
}

// Symbol.for: the same symbol in every copy of this package (a bundle that inlines it, two
// installed versions), so an error made by one copy is recognised by another.
const BRAND: unique symbol = Symbol.for("@ipam/errors/IpamError");

/** The static side every error class has: its name and, for a package's class, its kinds. */
interface ErrorClass {
  readonly errorName: string;
  readonly kinds?: Readonly<Record<string, ErrorKind>>;
}

/**
 * The base of every error class in the ipamd packages. An error has a stable `code` (what went
 * wrong, never renamed once published), a `kind` (what a caller can do about it: see
 * {@link ErrorKind}), a `message` for people, optional JSON-safe `details` and an optional
 * `cause`. Every class is constructed the same way: `new XError(code, message, { details,
 * cause })`.
 *
 * A package's class declares `errorName` and a complete table `kinds` (code → kind) as statics;
 * the constructor looks the kind up there, so a new code cannot be added without saying its
 * kind. `instanceof` works across copies of a class (a bundle that carries its own copy): it
 * checks a brand and the class's `errorName`, not object identity.
 */
export class IpamError<C extends string = string> extends Error {
  /** The name instances of this class carry; each subclass declares its own. */
  static readonly errorName: string = "IpamError";

  readonly code: C;
  readonly kind: ErrorKind;
  readonly details?: Readonly<Record<string, unknown>>;

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (!isIpamError(value)) return false;
    // biome-ignore lint/complexity/noThisInStatic: the class `instanceof` names, maybe a subclass.
    const cls = this as unknown as ErrorClass & (new (...args: never[]) => unknown);
    if (cls === IpamError) return true;
    return Function.prototype[Symbol.hasInstance].call(cls, value) || value.name === cls.errorName;
  }

  constructor(code: C, message: string, options: IpamErrorKindOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const cls = new.target as unknown as ErrorClass;
    this.name = cls.errorName;
    this.code = code;
    this.kind = options.kind ?? cls.kinds?.[code] ?? (isErrorKind(code) ? code : "INTERNAL");
    if (options.details !== undefined) this.details = options.details;
    // Not enumerable: the brand stays out of JSON, logs and `toEqual`.
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/**
 * True when `value` is an error of any ipamd package, from any copy of it (and, with `kind`,
 * of that kind). Use it at an edge that handles every package's errors alike.
 */
export function isIpamError(value: unknown, kind?: ErrorKind): value is IpamError {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as { [BRAND]?: unknown })[BRAND] === true &&
    (kind === undefined || (value as IpamError).kind === kind)
  );
}
