import { describe, expect, it } from "vitest";
import { ERROR_KINDS, type ErrorKind, IpamError, isErrorKind, isIpamError } from "../src/index.js";

type ParcelCode = "PARCEL_LOST" | "BAD_LABEL";

class ParcelError extends IpamError<ParcelCode> {
  static override readonly errorName = "ParcelError";
  static readonly kinds: Readonly<Record<ParcelCode, ErrorKind>> = {
    PARCEL_LOST: "NOT_FOUND",
    BAD_LABEL: "INVALID_ARGUMENT",
  };
}

class OtherError extends IpamError<"OTHER"> {
  static override readonly errorName = "OtherError";
  static readonly kinds: Readonly<Record<"OTHER", ErrorKind>> = { OTHER: "CONFLICT" };
}

/** A second copy of ParcelError, as a bundle that inlines the package would carry. */
function secondCopy(): typeof ParcelError {
  return class ParcelError2 extends IpamError<ParcelCode> {
    static override readonly errorName = "ParcelError";
    static readonly kinds: Readonly<Record<ParcelCode, ErrorKind>> = {
      PARCEL_LOST: "NOT_FOUND",
      BAD_LABEL: "INVALID_ARGUMENT",
    };
  };
}

describe("IpamError", () => {
  it("takes its kind from its class's table, its name from the class", () => {
    const cause = new Error("disk");
    const e = new ParcelError("BAD_LABEL", "label: too long; use ≤ 63 characters", {
      details: { field: "label" },
      cause,
    });
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe("ParcelError");
    expect(e.code).toBe("BAD_LABEL");
    expect(e.kind).toBe("INVALID_ARGUMENT");
    expect(e.details).toEqual({ field: "label" });
    expect(e.cause).toBe(cause);
    expect(String(e)).toBe("ParcelError: label: too long; use ≤ 63 characters");
  });

  it("a bare IpamError takes the code as its kind when it is one, else the given kind or INTERNAL", () => {
    expect(new IpamError("NOT_FOUND", "x").kind).toBe("NOT_FOUND");
    expect(new IpamError("SOMETHING", "x").kind).toBe("INTERNAL");
    expect(new IpamError("SOMETHING", "x", { kind: "TIMEOUT" }).kind).toBe("TIMEOUT");
  });

  it("recognises its own classes across copies, and tells classes apart", () => {
    const Copy = secondCopy();
    const fromCopy = new Copy("PARCEL_LOST", "gone");
    expect(fromCopy instanceof ParcelError).toBe(true);
    expect(new ParcelError("PARCEL_LOST", "gone") instanceof Copy).toBe(true);
    expect(fromCopy instanceof OtherError).toBe(false);
    expect(new OtherError("OTHER", "x") instanceof ParcelError).toBe(false);
    expect(fromCopy instanceof IpamError).toBe(true);
    expect(new Error("plain") instanceof IpamError).toBe(false);
    expect({ code: "NOT_FOUND", message: "look-alike" } instanceof IpamError).toBe(false);
  });

  it("isIpamError checks the brand and, when asked, the kind", () => {
    const e = new ParcelError("PARCEL_LOST", "gone");
    expect(isIpamError(e)).toBe(true);
    expect(isIpamError(e, "NOT_FOUND")).toBe(true);
    expect(isIpamError(e, "CONFLICT")).toBe(false);
    const nodeError = Object.assign(new Error("ENOENT: no such file"), { code: "ENOENT" });
    expect(isIpamError(nodeError)).toBe(false);
    expect(isIpamError(null)).toBe(false);
  });

  it("keeps the brand out of JSON and enumeration", () => {
    const e = new ParcelError("BAD_LABEL", "x", { details: { field: "label" } });
    expect(Object.keys(e).sort()).toEqual(["code", "details", "kind", "name"]);
    expect(JSON.parse(JSON.stringify(e))).toEqual({
      name: "ParcelError",
      code: "BAD_LABEL",
      kind: "INVALID_ARGUMENT",
      details: { field: "label" },
    });
  });

  it("names every kind once", () => {
    expect(new Set(ERROR_KINDS).size).toBe(ERROR_KINDS.length);
    for (const k of ERROR_KINDS) expect(isErrorKind(k)).toBe(true);
    expect(isErrorKind("POOL_EMPTY")).toBe(false);
  });
});
