import type { IpamClient } from "@ipam/grpc-server";
import { afterAll, describe, expect, it } from "vitest";
import { type AgentProc, type ClusterFixture, startCluster } from "./helpers/cluster-fixture.js";
import { killAll, logsOf, POLL_RPC_MS, tempDir, waitFor } from "./helpers/processes.js";

// Operator chaos on real processes (issue 15): three `ipamd --role server` processes and three
// `ipamd --role agent` processes on 127.0.0.1. Clients allocate and release through every agent
// while a driver adds, drains, resumes and removes (plain and forced) subnets, deregisters live
// nodes (forced, then waits for them to give everything back), declares nodes dead (after
// SIGKILLing their agent: the node died), SIGKILLs and restarts the leader and agents. Every
// acknowledged allocation is recorded and checked as it arrives: its address must not be held
// by another live holder (a holder is live from its allocation's answer until its release is
// sent, or until its node is killed and declared dead). At the end every live holder must still
// hold its address (nothing acknowledged was lost).
//
// IPAMD_CHAOS_MS sets how long the chaos runs (default 60 s); IPAMD_CHAOS_SEED replays a run.

const TOR = "tor-a1-1";
const CHAOS_MS = Number(process.env.IPAMD_CHAOS_MS ?? 60_000);
const SEED = Number(process.env.IPAMD_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
/**
 * Small API subnets (two /29 blocks each, 1 s cool-down): blocks churn, run out and go from
 * node to node, so an address handed to two holders is likely to show.
 */
const SUBNETS = [0, 1, 2].map((i) => ({
  id: `chaos-${i}`,
  cidr: `10.99.10.${i * 16}/28`,
  purpose: "chaos",
  scope: TOR,
  blockPrefix: 29,
  cooldownSeconds: 1,
}));

/** mulberry32: a small seeded PRNG, so a failing run can be replayed with its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Holder {
  readonly agent: string;
  readonly key: string;
  readonly address: string;
  readonly at: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let c: ClusterFixture | undefined;

afterAll(async () => {
  c?.close();
  await killAll();
});

describe("operator chaos (issue 15)", () => {
  it(
    "no address is ever acknowledged to two live holders and no acknowledged allocation is lost",
    async () => {
      const random = prng(SEED);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
      const events: string[] = [];
      const note = (e: string) => {
        events.push(`${new Date().toISOString()} ${e}`);
        if (events.length > 300) events.shift();
      };
      const violations: string[] = [];
      /** Live holders by address. */
      const live = new Map<string, Holder>();
      /** Keys whose release must still be sent (failed, or after a failed allocation). */
      const cleanup = new Map<string, string[]>();
      let stop = false;
      let acknowledged = 0;
      let released = 0;

      c = await startCluster(tempDir("ipamd-chaos"));
      const cluster = c;
      const agents: AgentProc[] = [];
      for (const id of ["chaos-x", "chaos-y", "chaos-z"]) agents.push(await c.startAgent(id, TOR));
      const down = new Set<string>();
      const retiring = new Set<string>();
      const mine = new Map<string, Set<string>>(agents.map((a) => [a.id, new Set<string>()]));
      for (const s of SUBNETS.slice(0, 2)) await c.l1.addSubnet({ subnet: s });
      for (const a of agents) cleanup.set(a.id, []);

      const keyOf = (containerId: string) => ({ network: "chaos", containerId, ifname: "eth0" });
      const send = async (ipam: IpamClient, agent: string, key: string) => {
        try {
          await ipam.release(keyOf(key));
          released++;
        } catch {
          cleanup.get(agent)?.push(key);
        }
      };

      /** One client per agent: allocate and release, recording every answer. */
      const worker = async (a: AgentProc) => {
        let n = 0;
        const held = mine.get(a.id) as Set<string>;
        const addressOf = new Map<string, string>();
        while (!stop) {
          if (down.has(a.id)) {
            await sleep(100);
            continue;
          }
          const retry = cleanup.get(a.id) as string[];
          if (retry.length > 0) {
            await send(a.ipam, a.id, retry.shift() as string);
            continue;
          }
          if (!retiring.has(a.id) && (held.size < 6 || (held.size < 14 && random() < 0.55))) {
            const key = `${a.id}-${n++}`;
            try {
              const r = await a.ipam.allocate({ ...keyOf(key), purpose: "chaos" });
              const address = r.addresses[0]?.address ?? "";
              acknowledged++;
              const other = live.get(address);
              if (other !== undefined) {
                violations.push(
                  `${address}: acknowledged to ${a.id}/${key} while ${other.agent}/${other.key} holds it (since ${new Date(other.at).toISOString()})`,
                );
              }
              live.set(address, { agent: a.id, key, address, at: Date.now() });
              held.add(key);
              addressOf.set(key, address);
            } catch {
              // Refused (nothing to lease, draining, deregistering) or cut off: like a failed
              // CNI ADD, the runtime sends DEL for it.
              cleanup.get(a.id)?.push(key);
              await sleep(50);
            }
          } else if (held.size > 0) {
            const key = pick([...held]);
            held.delete(key);
            const address = addressOf.get(key) as string;
            addressOf.delete(key);
            if (live.get(address)?.key === key) live.delete(address);
            await send(a.ipam, a.id, key);
          } else {
            await sleep(100);
          }
        }
      };

      /** The node died: its holders with it. Then declared dead, and a fresh agent starts. */
      const declareDead = async (a: AgentProc) => {
        down.add(a.id);
        a.proc.kill("SIGKILL");
        await a.proc.exited();
        for (const [address, h] of live) if (h.agent === a.id) live.delete(address);
        mine.get(a.id)?.clear();
        cleanup.set(a.id, []);
        await waitFor(
          "deregister-node --dead",
          () => cluster.l1.deregisterNode({ nodeId: a.id, dead: true }),
          { timeoutMs: 10_000 },
        ).finally(async () => {
          // Dead or not, the node comes back (a new agent on the same data dir).
          await cluster.restartAgent(a);
          down.delete(a.id);
        });
        note(`${a.id} declared dead`);
      };

      /** Forced deregistration of a live node: its pods go, it gives everything back, restarts. */
      const retire = async (a: AgentProc) => {
        retiring.add(a.id);
        const r = await cluster.l1.deregisterNode({ nodeId: a.id, force: true });
        note(`${a.id} deregistering: revoked ${r.revokedBlocks.join(" ")}`);
        for (const key of [...(mine.get(a.id) ?? [])]) cleanup.get(a.id)?.push(key);
        for (const [address, h] of live) if (h.agent === a.id) live.delete(address);
        mine.get(a.id)?.clear();
        await waitFor(
          `${a.id} to give back everything and go`,
          async () => {
            const leases = await cluster.l1.getNodeLeases(
              { nodeId: a.id },
              { deadlineMs: POLL_RPC_MS },
            );
            const topology = (await cluster.l1.getTopology({}, { deadlineMs: POLL_RPC_MS }))
              .topologyJson;
            return leases.blocks.length === 0 && !topology.includes(`"${a.id}"`) ? true : undefined;
          },
          { timeoutMs: 60_000, intervalMs: 500 },
        );
        note(`${a.id} gone; restarting its agent`);
        down.add(a.id);
        a.proc.kill("SIGKILL");
        await a.proc.exited();
        await cluster.restartAgent(a);
        down.delete(a.id);
        retiring.delete(a.id);
      };

      const done = new Map<string, number>();
      const refused = new Map<string, number>();
      /** Node actions (slow: restarts) run one at a time beside the subnet actions. */
      let nodeAction: Promise<void> | undefined;
      const count = (op: string, ok: boolean, detail: string) => {
        const m = ok ? done : refused;
        m.set(op, (m.get(op) ?? 0) + 1);
        note(`${op}: ${detail}`);
      };
      const nodeOp = async (op: string) => {
        const up = agents.filter((a) => !down.has(a.id) && !retiring.has(a.id));
        if (op === "kill-leader") {
          const leader = await cluster.leader();
          leader.proc.kill("SIGKILL");
          await leader.proc.exited();
          note(`leader ${leader.id} killed`);
          await sleep(random() * 2000);
          cluster.restartServer(leader);
        } else if (op === "kill-agent" && up.length > 0) {
          const a = pick(up);
          down.add(a.id);
          a.proc.kill("SIGKILL");
          await a.proc.exited();
          note(`${a.id} killed`);
          await cluster.restartAgent(a);
          down.delete(a.id);
        } else if (op === "retire-node" && up.length > 1) await retire(pick(up));
        else if (op === "dead-node" && up.length > 1) await declareDead(pick(up));
      };
      const driver = async () => {
        const until = Date.now() + CHAOS_MS;
        const o = { deadlineMs: 5000 };
        while (Date.now() < until) {
          await sleep(150 + random() * 500);
          const op = pick([
            ...["add", "add", "add", "drain", "resume", "remove", "force-remove", "force-remove"],
            ...["add", "add", "add", "drain", "resume", "remove", "force-remove", "force-remove"],
            "kill-leader",
            "kill-agent",
            "retire-node",
            "dead-node",
          ]);
          const s = pick(SUBNETS);
          if (op.startsWith("kill") || op.endsWith("-node")) {
            if (nodeAction !== undefined) continue;
            nodeAction = nodeOp(op).then(
              () => count(op, true, "ok"),
              (err: unknown) => count(op, false, (err as Error).message.split("\n")[0] ?? ""),
            );
            void nodeAction.finally(() => {
              nodeAction = undefined;
            });
            continue;
          }
          try {
            if (op === "add") await cluster.l1.addSubnet({ subnet: s }, o);
            else if (op === "drain")
              await cluster.l1.drainSubnet({ subnetId: s.id, drain: true }, o);
            else if (op === "resume")
              await cluster.l1.drainSubnet({ subnetId: s.id, drain: false }, o);
            else if (op === "remove") await cluster.l1.removeSubnet({ subnetId: s.id }, o);
            else await cluster.l1.removeSubnet({ subnetId: s.id, force: true }, o);
            count(op, true, `${s.id} ok`);
          } catch (err) {
            count(op, false, `${s.id} ${(err as Error).message.split("\n")[0]}`);
          }
        }
        await nodeAction;
      };

      const fail = (what: string) =>
        new Error(
          `seed ${SEED} (replay: IPAMD_CHAOS_SEED=${SEED}): ${what}\n--- events\n${events.slice(-60).join("\n")}\n${logsOf(cluster.procs(), 15)}`,
        );
      try {
        const workers = agents.map((a) => worker(a));
        await driver();
        stop = true;
        await Promise.all(workers);
        console.log(
          `operator chaos: seed ${SEED}, ${acknowledged} allocations acknowledged, ${released} released, ${live.size} live at the end; operator actions done: ${JSON.stringify(Object.fromEntries(done))}, refused: ${JSON.stringify(Object.fromEntries(refused))}`,
        );
        expect(violations, `seed ${SEED}`).toEqual([]);
        // Nothing acknowledged is lost: every live holder still holds its address.
        const lost: string[] = [];
        for (const h of live.values()) {
          const a = agents.find((x) => x.id === h.agent) as AgentProc;
          const r = await waitFor(`CHECK on ${a.id}`, () =>
            a.ipam.check({ ...keyOf(h.key), addresses: [h.address] }),
          );
          if (!r.ok) lost.push(`${h.agent}/${h.key} ${h.address}: ${r.reason}`);
        }
        expect(lost, `seed ${SEED}`).toEqual([]);
        expect(acknowledged).toBeGreaterThan(30);
        expect(released).toBeGreaterThan(10);
      } catch (err) {
        throw fail((err as Error).message);
      }
    },
    CHAOS_MS + 300_000,
  );
});
