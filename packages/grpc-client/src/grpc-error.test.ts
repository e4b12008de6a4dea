import { describe, expect, it } from "vitest";
import { GrpcError } from "./grpc-error.js";

describe("GrpcError", () => {
  it("carries code, details, status and cause", () => {
    const cause = new Error("socket closed");
    const error = new GrpcError("UNAVAILABLE", "no server", {
      cause,
      details: { path: "/run/ipamd/ipamd.sock" },
      grpcStatus: 14,
    });
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({
      name: "GrpcError",
      code: "UNAVAILABLE",
      kind: "UNAVAILABLE",
      grpcStatus: 14,
    });
    expect(error.details).toEqual({ path: "/run/ipamd/ipamd.sock" });
    expect(error.cause).toBe(cause);
  });

  it("recognises errors made by another copy of the class (the bundled lean entry)", () => {
    // What another copy's instance looks like: the shared brand and the class's name.
    const foreign = Object.defineProperty(
      Object.assign(new Error("x"), { name: "GrpcError", code: "TIMEOUT", kind: "TIMEOUT" }),
      Symbol.for("@ipam/errors/IpamError"),
      { value: true },
    );
    expect(foreign instanceof GrpcError).toBe(true);
    expect(new Error("plain") instanceof GrpcError).toBe(false);
    expect(Object.assign(new Error("coded"), { code: "TIMEOUT" }) instanceof GrpcError).toBe(false);
  });
});
