// Long simulation campaign: `pnpm --filter @ipam/raft sim --seeds 20000`.
// Replay one seed: `pnpm --filter @ipam/raft sim --seed 42 [--faults drop,crash] [--fault-steps 50] --trace`.
import { parseArgs } from "node:util";
import {
  FAULT_KINDS,
  type FaultKind,
  replayCommand,
  runSimulation,
  type SimulationOptions,
  shrinkFailure,
} from "../src/testing/index.js";

const { values } = parseArgs({
  options: {
    seeds: { type: "string", default: "1000" },
    "first-seed": { type: "string", default: "1" },
    seed: { type: "string" },
    faults: { type: "string" },
    "fault-steps": { type: "string" },
    trace: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});

function parseFaults(text: string | undefined): FaultKind[] | undefined {
  if (text === undefined) return undefined;
  if (text === "none") return [];
  const kinds = text.split(",");
  for (const k of kinds) {
    if (!(FAULT_KINDS as readonly string[]).includes(k)) {
      console.error(`--faults: unknown fault kind ${k} (known: ${FAULT_KINDS.join(", ")})`);
      process.exit(2);
    }
  }
  return kinds as FaultKind[];
}

const faults = parseFaults(values.faults);
const faultSteps = values["fault-steps"] === undefined ? undefined : Number(values["fault-steps"]);
const base = (seed: number): SimulationOptions => ({
  seed,
  ...(faults === undefined ? {} : { faults }),
  ...(faultSteps === undefined ? {} : { faultSteps }),
});

if (values.seed !== undefined) {
  const options: SimulationOptions = {
    ...base(Number(values.seed)),
    ...(values.trace ? { trace: (line: string) => console.log(line) } : {}),
  };
  const r = runSimulation(options);
  console.log(JSON.stringify(r, null, 2));
  process.exit(r.violations.length === 0 ? 0 : 1);
}

const count = Number(values.seeds);
const first = Number(values["first-seed"]);
const started = performance.now();
const totals = { steps: 0, faults: 0, messages: 0, proposals: 0, acknowledged: 0, reads: 0 };
const byKind: Record<string, number> = {};
let leaders = 0;
let maxRecovery = 0;
let violations = 0;
const failures: string[] = [];
for (let seed = first; seed < first + count; seed++) {
  const r = runSimulation(base(seed));
  totals.steps += r.steps;
  totals.faults += r.faultsInjected;
  totals.messages += r.messages;
  totals.proposals += r.proposals;
  totals.acknowledged += r.acknowledged;
  totals.reads += r.reads;
  leaders += r.leadersElected;
  maxRecovery = Math.max(maxRecovery, r.recoveredAfter ?? 0);
  for (const [k, v] of Object.entries(r.faultCounts)) byKind[k] = (byKind[k] ?? 0) + v;
  if (r.violations.length > 0) {
    violations += r.violations.length;
    const shrunk = shrinkFailure(base(seed));
    const line = `seed ${seed} failed at step ${r.failedAtStep}: ${r.violations[0]}\n  minimal replay: ${replayCommand(shrunk.options)}`;
    failures.push(line);
    console.error(line);
  }
}
const seconds = (performance.now() - started) / 1000;
const summary = {
  seeds: count,
  steps: totals.steps,
  faultsInjected: totals.faults,
  faultsByKind: byKind,
  messages: totals.messages,
  proposals: totals.proposals,
  acknowledged: totals.acknowledged,
  linearizableReads: totals.reads,
  leadersElected: leaders,
  maxTicksToRecover: maxRecovery,
  violations,
  seconds: Number(seconds.toFixed(1)),
};
if (values.json) console.log(JSON.stringify(summary));
else {
  console.log("raft simulation campaign");
  for (const [k, v] of Object.entries(summary)) {
    console.log(`  ${k.padEnd(20)} ${typeof v === "object" ? JSON.stringify(v) : v}`);
  }
}
process.exit(violations === 0 ? 0 : 1);
