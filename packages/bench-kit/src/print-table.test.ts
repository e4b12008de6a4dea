import { describe, expect, it } from "vitest";
import { printTable } from "./print-table.js";

describe("printTable", () => {
  it("prints a header, a rule and one aligned line per row, the ratio where a baseline ran", () => {
    const lines: string[] = [];
    printTable(
      [
        {
          name: "ours",
          unit: "ns/op",
          value: 11.8,
          p50: 11.8,
          p99: 14.2,
          samples: 2000,
          baseline: "naive",
          ratio: 41.3,
        },
        { name: "naive", unit: "ns/op", value: 487, p50: 487, p99: 530, samples: 80 },
      ],
      (line) => lines.push(line),
    );
    expect(lines).toEqual([
      "name   value   unit   p99  samples  ratio",
      "-----  -----  -----  ----  -------  -----",
      "ours    11.8  ns/op  14.2     2000  41.3x",
      "naive    487  ns/op   530       80",
    ]);
  });
});
