import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  familyLabel,
  GRPC_CODE_NAMES,
  grpcCodeLabel,
  grpcMethodLabel,
  normaliseResult,
  resultOf,
} from "./labels.js";
import { MetricsError } from "./metrics-error.js";

describe("result labels", () => {
  it("take the stable code of a typed error and fold everything else into INTERNAL", () => {
    expect(resultOf(new MetricsError("CONFLICT", "x"))).toBe("CONFLICT");
    expect(resultOf(Object.assign(new Error("x"), { code: "POOL_EXHAUSTED" }))).toBe(
      "POOL_EXHAUSTED",
    );
    expect(resultOf(new Error("plain"))).toBe("INTERNAL");
    expect(resultOf(Object.assign(new Error("x"), { code: 13 }))).toBe("INTERNAL");
    expect(resultOf(Object.assign(new Error("x"), { code: "no such pod web-1" }))).toBe("INTERNAL");
    expect(resultOf("a string")).toBe("INTERNAL");
    expect(resultOf(undefined)).toBe("INTERNAL");
  });

  it("let ok and UPPER_SNAKE codes through and nothing free-form", () => {
    expect(normaliseResult("ok")).toBe("ok");
    expect(normaliseResult("NOT_LEADER")).toBe("NOT_LEADER");
    expect(normaliseResult("failed for 10.0.0.7")).toBe("INTERNAL");
    expect(normaliseResult(`A${"B".repeat(64)}`)).toBe("INTERNAL");
    fc.assert(
      fc.property(fc.string(), (s) => {
        const r = normaliseResult(s);
        expect(r === "ok" || /^[A-Z][A-Z0-9_]{0,63}$/.test(r)).toBe(true);
      }),
    );
  });
});

describe("gRPC labels", () => {
  it("name status codes by number or name, unknown ones as UNKNOWN", () => {
    expect(grpcCodeLabel(0)).toBe("OK");
    expect(grpcCodeLabel(14)).toBe("UNAVAILABLE");
    expect(grpcCodeLabel(16)).toBe("UNAUTHENTICATED");
    expect(grpcCodeLabel(17)).toBe("UNKNOWN");
    expect(grpcCodeLabel(-1)).toBe("UNKNOWN");
    expect(grpcCodeLabel("NOT_FOUND")).toBe("NOT_FOUND");
    expect(grpcCodeLabel("POOL_EXHAUSTED" as "OK")).toBe("UNKNOWN");
    expect(GRPC_CODE_NAMES).toHaveLength(17);
  });

  it("strip the leading slash of a method path", () => {
    expect(grpcMethodLabel("/ipam.v1.Ipam/Allocate")).toBe("ipam.v1.Ipam/Allocate");
    expect(grpcMethodLabel("ipam.v1.Ipam/Allocate")).toBe("ipam.v1.Ipam/Allocate");
  });
});

describe("familyLabel", () => {
  it("spells families as ipv4 and ipv6", () => {
    expect(familyLabel(4)).toBe("ipv4");
    expect(familyLabel(6)).toBe("ipv6");
  });
});
