import { describe, expect, it } from "vitest";
import { prettyLine } from "./log-pretty.js";

describe("prettyLine", () => {
  const time = new Date(2026, 0, 2, 3, 4, 5, 6).getTime();

  it("shows time, level, component, message and the other fields as key=value", () => {
    const line = JSON.stringify({
      level: 30,
      time,
      node: "n1",
      component: "agent",
      msg: "block leased",
      block: "10.99.0.64/26",
      reason: "two words",
      blocks: 2,
    });
    expect(prettyLine(line)).toBe(
      '03:04:05.006 INFO  [agent] block leased block=10.99.0.64/26 reason="two words" blocks=2',
    );
  });

  it("shows an error's message and code, and its stack only from level error", () => {
    const err = {
      type: "IpamdError",
      message: "no quorum",
      code: "UNAVAILABLE",
      stack: "E\n  at x",
    };
    expect(prettyLine(JSON.stringify({ level: 40, time, msg: "lease failed", err }))).toBe(
      '03:04:05.006 WARN  lease failed err="no quorum (UNAVAILABLE)"',
    );
    expect(prettyLine(JSON.stringify({ level: 60, time, msg: "start failed", err }))).toBe(
      '03:04:05.006 FATAL start failed err="no quorum (UNAVAILABLE)"\n    E\n      at x',
    );
  });

  it("passes a line that is not a JSON object through unchanged", () => {
    expect(prettyLine("not json")).toBe("not json");
    expect(prettyLine("[1,2]")).toBe("[1,2]");
  });
});
