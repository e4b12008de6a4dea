import { describe, expect, it } from "vitest";
import { hostPort, isLoopbackHost } from "./tcp-address.js";

describe("isLoopbackHost", () => {
  it.each(["localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]", "::ffff:127.0.0.1"])(
    "%s is loopback",
    (host) => expect(isLoopbackHost(host)).toBe(true),
  );
  it.each(["0.0.0.0", "::", "", "10.0.0.1", "example.com", "128.0.0.1", "::2"])(
    "%s is not loopback",
    (host) => expect(isLoopbackHost(host)).toBe(false),
  );
  it("brackets IPv6 literals in targets", () => {
    expect(hostPort("::1", 7400)).toBe("[::1]:7400");
    expect(hostPort("10.0.0.1", 7400)).toBe("10.0.0.1:7400");
  });
});
