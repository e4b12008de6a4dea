import { readFileSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import { CliError, usageError } from "../cli-error.js";
import { type CheckReport, runCheck } from "../consistency.js";
import type { CommandContext } from "../context.js";
import { EXIT } from "../exit-codes.js";
import { openPodReader, type PodReader } from "../kube-pods.js";
import { API_VERSION, table } from "../output.js";
import { repairFromReport } from "../repair.js";

/** The report file `check --output` writes and `repair --from-report` reads. */
function readReport(path: string): CheckReport {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw usageError("from-report", `cannot read ${path} as JSON: ${(err as Error).message}`);
  }
  const d = doc as { apiVersion?: unknown; kind?: unknown; findings?: unknown };
  if (d.apiVersion !== API_VERSION || d.kind !== "CheckReport" || !Array.isArray(d.findings)) {
    throw usageError(
      "from-report",
      `${path} is not a report of \`ipamctl check --output\` (apiVersion ${API_VERSION}, kind CheckReport)`,
    );
  }
  return doc as CheckReport;
}

/** The Kubernetes pod reader --kubeconfig or --kubernetes asks for; undefined without them. */
async function podReaderOf(opts: {
  kubeconfig?: string;
  kubernetes?: boolean;
}): Promise<PodReader | undefined> {
  if (opts.kubeconfig === undefined && opts.kubernetes !== true) return undefined;
  return openPodReader(opts.kubeconfig);
}

/**
 * `check`: the online consistency check (cluster state vs the agents' stores); `repair
 * --from-report`: repairs exactly what a check report listed, re-checking each item first.
 */
export function register(program: Command, context: CommandContext): void {
  program
    .command("check")
    .description(
      "online consistency check of the cluster state against the agents (--node, --unix-socket); exit 3 when it finds problems",
    )
    .option("--output <file>", "also write the report there (input of `repair --from-report`)")
    .option(
      "--kubeconfig <file>",
      "also check each record's pod against this Kubernetes API (a fresh GET per record)",
    )
    .option(
      "--kubernetes",
      "as --kubeconfig, with the in-cluster or default configuration ($KUBECONFIG, ~/.kube/config)",
    )
    .action(async (opts: { output?: string; kubeconfig?: string; kubernetes?: boolean }) => {
      const pods = await podReaderOf(opts);
      const report = await runCheck(context.cluster(), context.agents(), new Date(), pods);
      if (opts.output !== undefined) {
        try {
          writeFileSync(
            opts.output,
            `${JSON.stringify({ apiVersion: API_VERSION, kind: "CheckReport", ...report }, null, 2)}\n`,
          );
        } catch (err) {
          throw new CliError(
            "WRITE_FAILED",
            `--output: cannot write ${opts.output}: ${(err as Error).message}`,
          );
        }
      }
      context.output().result("CheckReport", report, (c) => {
        const lines = [
          `checked ${report.kubernetes ? "the pods of the records of " : ""}${report.agents.filter((a) => a.reachable).length} agents (${report.agents.map((a) => `${a.node ?? "?"} ${a.reachable ? c.green("ok") : c.red("no answer")}`).join(", ") || "none given: --node ADDR"})`,
        ];
        if (report.uncheckedNodes.length > 0) {
          lines.push(
            c.yellow(`not checked (agent not given): ${report.uncheckedNodes.join(", ")}`),
          );
        }
        for (const v of report.runtimeViews ?? []) {
          if (v.receivedAt !== null) continue;
          lines.push(
            `${v.node} ${v.network}: no runtime view (the runtime never ran CNI GC): its ${v.records} records are not checked against the runtime`,
          );
        }
        if (report.findings.length === 0) {
          lines.push(c.green("no problems found"));
        } else {
          lines.push(
            "",
            table(
              ["id", "problem", "node", "where", "repair", "detail"],
              report.findings.map((f) => [
                f.id,
                c.red(f.type),
                f.node,
                f.block ?? f.addresses.slice(0, 3).join(" "),
                f.repair ?? "manual",
                f.detail,
              ]),
              c,
            ),
            "",
            opts.output === undefined
              ? "write the report with --output FILE, then `ipamctl repair --from-report FILE`"
              : `repair: ipamctl repair --from-report ${opts.output}`,
          );
        }
        return lines.join("\n");
      });
      if (report.findings.length > 0) context.setExitCode(EXIT.PROBLEMS);
    });

  program
    .command("repair")
    .description(
      "repair what a check report lists, and only that: each item is re-checked and acted on only if still in the reported state",
    )
    .requiredOption("--from-report <file>", "the report `ipamctl check --output FILE` wrote")
    .option("--kubeconfig <file>", "re-check `pod-gone` items against this Kubernetes API")
    .option("--kubernetes", "as --kubeconfig, with the in-cluster or default configuration")
    .action(async (opts: { fromReport: string; kubeconfig?: string; kubernetes?: boolean }) => {
      const report = readReport(opts.fromReport);
      const pods = await podReaderOf(opts);
      const outcomes = await repairFromReport(context.cluster(), context.agents(), report, pods);
      context.output().result("RepairResult", { report: report.checkedAt, outcomes }, (c) =>
        outcomes.length === 0
          ? "the report lists no problems: nothing done"
          : table(
              ["finding", "problem", "node", "outcome", "what was done"],
              outcomes.map((o) => [
                o.finding,
                o.type,
                o.node,
                o.outcome === "repaired"
                  ? c.green(o.outcome)
                  : o.outcome === "gone"
                    ? o.outcome
                    : c.yellow(o.outcome),
                o.message,
              ]),
              c,
            ),
      );
      if (outcomes.some((o) => o.outcome === "manual" || o.outcome === "unchecked")) {
        context.setExitCode(EXIT.PROBLEMS);
      }
    });
}
