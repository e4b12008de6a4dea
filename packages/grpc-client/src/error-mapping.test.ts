import { ERROR_KINDS, type ErrorKind, IpamError } from "@ipam/errors";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeError,
  encodeError,
  grpcStatusForKind,
  KIND_TO_GRPC_STATUS,
  kindForGrpcStatus,
} from "./error-mapping.js";
import { GrpcError } from "./grpc-error.js";
import { GRPC_STATUS } from "./status-codes.js";

function roundTrip(error: unknown): GrpcError {
  const encoded = encodeError(error);
  const trailers = new Map(encoded.trailers.map(([k, v]) => [k, v] as const));
  return decodeError(encoded.status, encoded.message, (name) => trailers.get(name));
}

/** A package's error class as the packages declare theirs: codes whose names say nothing. */
type ShelfCode = "SHELF_FULL" | "BOOK_GONE" | "TORN_PAGE" | "OVERLAP";
class ShelfError extends IpamError<ShelfCode> {
  static override readonly errorName = "ShelfError";
  static readonly kinds: Readonly<Record<ShelfCode, ErrorKind>> = {
    SHELF_FULL: "POOL_EXHAUSTED",
    BOOK_GONE: "NOT_FOUND",
    TORN_PAGE: "DATA_LOSS",
    OVERLAP: "INVALID_ARGUMENT",
  };
}

describe("error kind → gRPC status", () => {
  it.each([
    ["INVALID_ARGUMENT", "INVALID_ARGUMENT"],
    ["NOT_FOUND", "NOT_FOUND"],
    ["CONFLICT", "ALREADY_EXISTS"],
    ["POOL_EXHAUSTED", "RESOURCE_EXHAUSTED"],
    ["NOT_LEADER", "FAILED_PRECONDITION"],
    ["TIMEOUT", "DEADLINE_EXCEEDED"],
    ["UNAVAILABLE", "UNAVAILABLE"],
    ["SHUTTING_DOWN", "UNAVAILABLE"],
    ["DATA_LOSS", "DATA_LOSS"],
    ["INTERNAL", "INTERNAL"],
    ["UNKNOWN", "UNKNOWN"],
  ] as const)("%s → %s", (kind, status) => {
    expect(grpcStatusForKind(kind)).toBe(status);
  });

  it("has a status for every kind", () => {
    for (const kind of ERROR_KINDS)
      expect(GRPC_STATUS[KIND_TO_GRPC_STATUS[kind]]).toBeTypeOf("number");
  });

  it("follows the kind, not the spelling of the code", () => {
    // The name patterns of before would have sent OVERLAP as ALREADY_EXISTS and SHELF_FULL,
    // BOOK_GONE, TORN_PAGE as UNKNOWN.
    expect(encodeError(new ShelfError("OVERLAP", "x")).status).toBe(GRPC_STATUS.INVALID_ARGUMENT);
    expect(encodeError(new ShelfError("SHELF_FULL", "x")).status).toBe(
      GRPC_STATUS.RESOURCE_EXHAUSTED,
    );
    expect(encodeError(new ShelfError("BOOK_GONE", "x")).status).toBe(GRPC_STATUS.NOT_FOUND);
    expect(encodeError(new ShelfError("TORN_PAGE", "x")).status).toBe(GRPC_STATUS.DATA_LOSS);
  });
});

describe("encodeError / decodeError", () => {
  it("keeps code, kind, message and JSON details of any package's error across the wire", () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Z][A-Z0-9_]{0,20}$/),
        fc.constantFrom(...ERROR_KINDS),
        fc.string(),
        fc.dictionary(
          fc.stringMatching(/^[a-z][a-zA-Z]{0,8}$/),
          fc.oneof(fc.string(), fc.integer()),
        ),
        (code, kind, message, details) => {
          const back = roundTrip(new IpamError(code, message, { kind, details }));
          expect(back).toBeInstanceOf(GrpcError);
          expect(back.code).toBe(code);
          expect(back.kind).toBe(kind);
          if (message !== "") expect(back.message).toBe(message);
          if (Object.keys(details).length > 0) expect(back.details).toMatchObject(details);
          expect(back.grpcStatus).toBe(GRPC_STATUS[grpcStatusForKind(kind)]);
        },
      ),
    );
  });

  it("passes a forwarded GrpcError on with the code and kind it came with", () => {
    const upstream = roundTrip(new ShelfError("SHELF_FULL", "shelf 3 is full"));
    const again = roundTrip(upstream);
    expect(again).toMatchObject({ code: "SHELF_FULL", kind: "POOL_EXHAUSTED" });
  });

  it("hides everything about errors that are not the packages' own", () => {
    const systemError = Object.assign(new Error("open /etc/secret: hunter2"), { code: "ENOENT" });
    const lookAlike = Object.assign(new Error("hunter2"), { code: "NOT_FOUND" });
    for (const thrown of [
      new Error("db password is hunter2"),
      systemError,
      lookAlike,
      "a string",
      42,
      null,
      { code: 5 },
    ]) {
      const encoded = encodeError(thrown);
      expect(encoded).toMatchObject({
        status: 13,
        message: "internal error",
        code: "INTERNAL",
        kind: "INTERNAL",
        untyped: true,
      });
      expect(JSON.stringify(encoded.trailers)).not.toContain("hunter2");
    }
  });

  it("derives code and kind from the status when the server sent none", () => {
    expect(decodeError(GRPC_STATUS.DEADLINE_EXCEEDED, "late", () => undefined)).toMatchObject({
      code: "TIMEOUT",
      kind: "TIMEOUT",
    });
    expect(decodeError(GRPC_STATUS.UNAVAILABLE, "", () => undefined)).toMatchObject({
      code: "UNAVAILABLE",
      kind: "UNAVAILABLE",
      message: "UNAVAILABLE (gRPC status 14)",
    });
    expect(kindForGrpcStatus(99)).toBe("UNKNOWN");
  });

  it("gives an older server's code without a kind the code's own kind, else the status's", () => {
    const only = (code: string) => (name: string) =>
      name === "ipam-error-code" ? code : undefined;
    expect(
      decodeError(GRPC_STATUS.RESOURCE_EXHAUSTED, "full", only("POOL_EXHAUSTED")),
    ).toMatchObject({ code: "POOL_EXHAUSTED", kind: "POOL_EXHAUSTED" });
    expect(decodeError(GRPC_STATUS.INVALID_ARGUMENT, "bad", only("INVALID_CIDR"))).toMatchObject({
      code: "INVALID_CIDR",
      kind: "INVALID_ARGUMENT",
    });
  });

  it("percent-encodes a non-ASCII leader address so trailers stay valid", () => {
    const encoded = encodeError(
      new IpamError("NOT_LEADER", "x", { details: { leaderAddress: "hôst:1" } }),
    );
    const value = encoded.trailers.find(([k]) => k === "ipam-leader-address")?.[1];
    expect(value).toBe("h%C3%B4st%3A1");
  });
});
