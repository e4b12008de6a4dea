import { IpamError, isIpamError } from "@ipam/errors";
import { describe, expect, it } from "vitest";
import { CliError, exitCodeOf, usageError } from "./cli-error.js";
import { EXIT } from "./exit-codes.js";

describe("CliError", () => {
  it("is an IpamError with a code and the kind of its code", () => {
    const err = new CliError("REFUSED", "held by net/web-1/eth0");
    expect(err).toBeInstanceOf(IpamError);
    expect(err).toBeInstanceOf(CliError);
    expect(isIpamError(err, "CONFLICT")).toBe(true);
    expect(err).toMatchObject({ name: "CliError", code: "REFUSED", kind: "CONFLICT" });
  });

  it("ends a command with the exit status of its kind, like a server's error of that kind", () => {
    expect(exitCodeOf(usageError("server", "bad"))).toBe(EXIT.USAGE);
    expect(exitCodeOf(new CliError("AGENT_UNREACHABLE", "x"))).toBe(EXIT.UNREACHABLE);
    expect(exitCodeOf(new CliError("REFUSED", "x"))).toBe(EXIT.REFUSED);
    expect(exitCodeOf(new CliError("NOT_FOUND", "x"))).toBe(EXIT.NOT_FOUND);
    expect(exitCodeOf(new CliError("WRITE_FAILED", "x"))).toBe(EXIT.ERROR);
    expect(exitCodeOf(new CliError("BAD_ANSWER", "x"))).toBe(EXIT.ERROR);
    // Another package's error of the same kind ends the same way.
    expect(exitCodeOf(new IpamError("SUBNET_IN_USE", "x", { kind: "CONFLICT" }))).toBe(
      EXIT.REFUSED,
    );
    expect(exitCodeOf(new Error("no kind"))).toBe(EXIT.ERROR);
  });

  it("names the flag of a usage error in its message and details", () => {
    const err = usageError("timeout", '"x" is not a number of seconds');
    expect(err.message).toBe('--timeout: "x" is not a number of seconds');
    expect(err.details).toEqual({ field: "--timeout" });
  });
});
