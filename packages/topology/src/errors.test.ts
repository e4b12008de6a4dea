import { describe, expect, it } from "vitest";
import { issuesError, TopologyError } from "./errors.js";

describe("TopologyError", () => {
  it("carries a stable code, details, cause and its class name", () => {
    const cause = new Error("root");
    const error = new TopologyError("NOT_FOUND", "unknown node", { details: { id: "n" }, cause });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("TopologyError");
    expect(error.code).toBe("NOT_FOUND");
    expect(error.details).toEqual({ id: "n" });
    expect(error.cause).toBe(cause);
    expect(error.issues).toEqual([]);
  });

  it("lists every issue in the message and in details.issues", () => {
    const issues = [
      { path: "zones[0].id", message: "zone id is required" },
      { path: "zones[1].subnets[0].cidr", message: "10.0.0.0/33 is not a valid CIDR" },
    ];
    const error = issuesError("INVALID_CONFIG", "invalid topology config (2 problems)", issues);
    expect(error.message).toBe(
      "invalid topology config (2 problems):\nzones[0].id: zone id is required\nzones[1].subnets[0].cidr: 10.0.0.0/33 is not a valid CIDR",
    );
    expect(error.details?.issues).toEqual(issues);
    expect(error.issues).toEqual(issues);
  });
});
