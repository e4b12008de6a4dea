import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeError, encodeError, grpcStatusForIpamCode } from "./error-mapping.js";
import type { GrpcError } from "./grpc-error.js";
import { GRPC_STATUS } from "./status-codes.js";

function roundTrip(error: unknown): GrpcError {
  const encoded = encodeError(error);
  const trailers = new Map(encoded.trailers.map(([k, v]) => [k, v] as const));
  return decodeError(encoded.status, encoded.message, (name) => trailers.get(name));
}

describe("ipamd code → gRPC status", () => {
  it.each([
    ["INVALID_ARGUMENT", "INVALID_ARGUMENT"],
    ["NOT_FOUND", "NOT_FOUND"],
    ["CONFLICT", "ALREADY_EXISTS"],
    ["POOL_EXHAUSTED", "RESOURCE_EXHAUSTED"],
    ["NOT_LEADER", "FAILED_PRECONDITION"],
    ["TIMEOUT", "DEADLINE_EXCEEDED"],
    ["UNAVAILABLE", "UNAVAILABLE"],
    ["SHUTTING_DOWN", "UNAVAILABLE"],
    ["INTERNAL", "INTERNAL"],
    ["INVALID_CIDR", "INVALID_ARGUMENT"],
    ["SUBNET_NOT_FOUND", "NOT_FOUND"],
    ["UNKNOWN_NODE", "NOT_FOUND"],
    ["BLOCKS_EXHAUSTED", "RESOURCE_EXHAUSTED"],
    ["SUBNET_OVERLAP", "ALREADY_EXISTS"],
    ["DUPLICATE_ID", "ALREADY_EXISTS"],
    ["APPLY_TIMEOUT", "DEADLINE_EXCEEDED"],
    ["SOMETHING_ELSE", "UNKNOWN"],
  ])("%s → %s", (code, status) => {
    expect(grpcStatusForIpamCode(code)).toBe(status);
  });
});

describe("encodeError / decodeError", () => {
  it("keeps code, message and JSON details of any typed error across the wire", () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Z][A-Z0-9_]{0,20}$/),
        fc.string(),
        fc.dictionary(
          fc.stringMatching(/^[a-z][a-zA-Z]{0,8}$/),
          fc.oneof(fc.string(), fc.integer()),
        ),
        (code, message, details) => {
          const back = roundTrip(Object.assign(new Error(message), { code, details }));
          expect(back.code).toBe(code);
          if (message !== "") expect(back.message).toBe(message);
          if (Object.keys(details).length > 0) expect(back.details).toMatchObject(details);
          expect(back.grpcStatus).toBe(GRPC_STATUS[grpcStatusForIpamCode(code)]);
        },
      ),
    );
  });

  it("hides everything about untyped errors", () => {
    for (const thrown of [new Error("db password is hunter2"), "a string", 42, null, { code: 5 }]) {
      const encoded = encodeError(thrown);
      expect(encoded).toMatchObject({ status: 13, message: "internal error", untyped: true });
      expect(JSON.stringify(encoded.trailers)).not.toContain("hunter2");
    }
  });

  it("derives a code from the status when the server sent none", () => {
    expect(decodeError(GRPC_STATUS.DEADLINE_EXCEEDED, "late", () => undefined).code).toBe(
      "TIMEOUT",
    );
    expect(decodeError(GRPC_STATUS.UNAVAILABLE, "", () => undefined)).toMatchObject({
      code: "UNAVAILABLE",
      message: "UNAVAILABLE (gRPC status 14)",
    });
  });

  it("percent-encodes a non-ASCII leader address so trailers stay valid", () => {
    const encoded = encodeError(
      Object.assign(new Error("x"), { code: "NOT_LEADER", details: { leaderAddress: "hôst:1" } }),
    );
    const value = encoded.trailers.find(([k]) => k === "ipam-leader-address")?.[1];
    expect(value).toBe("h%C3%B4st%3A1");
  });
});
