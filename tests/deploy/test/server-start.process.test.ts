// The server StatefulSet's entrypoint (image/ipamd-server-start) with three real ipamd servers on
// loopback, as three pods of the StatefulSet would run it, over mutual TLS with certificates from
// the documented manual path (certs/make-certs.sh): who bootstraps, who joins, who resumes, and
// that a server which lost its data dir while still a member never starts as an empty voter
// (ordinal 0 included: no second cluster). Then an agent reaches the servers by IP address with
// --tls-server-name, as the DaemonSet does through the ClusterIP Service.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, type Running, start, stop, waitFor } from "./processes.js";
import { DEPLOY } from "./render.js";

const START = join(DEPLOY, "image/ipamd-server-start");
const MAKE_CERTS = join(DEPLOY, "certs/make-certs.sh");
const IPAMD = join(DEPLOY, "../apps/ipamd/dist/main.js");
const SERVER_NAME = "ipam-servers.ipamd-system.svc";

let dir: string;
let certs: string;
let addresses: string[];
const servers: (Running | undefined)[] = [];
const others: Running[] = [];

const podName = (ordinal: number) => `ipamd-server-${ordinal}`;

function serverEnv(ordinal: number): NodeJS.ProcessEnv {
  return {
    POD_NAME: podName(ordinal),
    IPAMD_SERVER_ADDRS: addresses.join(","),
    IPAMD_BIN: `${process.execPath} ${IPAMD}`,
    IPAMD_DATA_DIR: join(dir, podName(ordinal)),
    IPAMD_GRPC_ADDR: `127.0.0.1:${addresses[ordinal]?.split(":")[1]}`,
    IPAMD_METRICS_ADDR: "off",
    IPAMD_ELECTION_MS: "500",
    IPAMD_PEER_WAIT_SECONDS: "60",
    IPAMD_TLS_CA: join(certs, "ca.crt"),
    IPAMD_TLS_CERT: join(certs, "server.crt"),
    IPAMD_TLS_KEY: join(certs, "server.key"),
    IPAMD_TLS_SERVER_NAME: SERVER_NAME,
  };
}

function startServer(ordinal: number): Running {
  const running = start("sh", [START], serverEnv(ordinal));
  servers[ordinal] = running;
  return running;
}

/** The TLS flags with `name`'s certificate: `server`, `operator`, or `node-<node>` (an agent). */
const tlsFlags = (name: string) => [
  ...["--tls-ca", join(certs, "ca.crt")],
  ...["--tls-cert", join(certs, `${name}.crt`), "--tls-key", join(certs, `${name}.key`)],
];

/** `ipamd cluster <args>` against `server`, over TLS; the parsed JSON or undefined. */
function cluster(args: string[], server: string, extra: string[] = []): unknown {
  const run = spawnSync(
    process.execPath,
    [IPAMD, "cluster", ...args, "--server", server, ...tlsFlags("server"), ...extra],
    { encoding: "utf8", timeout: 120_000 },
  );
  return run.status === 0 ? JSON.parse(run.stdout) : undefined;
}

interface Members {
  leader: string;
  members: { id: string; role: string }[];
}

/** Waits until `server` reports `ids` as the voters and knows a leader. */
function waitForVoters(ids: string[], server = addresses[0] ?? ""): Promise<Members> {
  return waitFor(`voters ${ids.join(", ")}`, () => {
    const m = cluster(["members"], server) as Members | undefined;
    const voters = m?.members
      .filter((x) => x.role === "voter")
      .map((x) => x.id)
      .sort();
    return m !== undefined && m.leader !== "" && voters?.join() === [...ids].sort().join()
      ? m
      : undefined;
  }).catch((error: unknown) => {
    const logs = servers.map((s, i) => `--- ${podName(i)}\n${s?.output.join("\n")}`).join("\n");
    throw new Error(`${(error as Error).message}\n${logs}`);
  });
}

const ready = existsSync("/usr/bin/openssl") || spawnSync("openssl", ["version"]).status === 0;

describe("ipamd-server-start: three servers as a StatefulSet runs them (mTLS, manual certificates)", () => {
  beforeAll(async () => {
    if (!ready) throw new Error("openssl is required (apt-get install openssl)");
    if (!existsSync(IPAMD)) throw new Error(`${IPAMD} missing: run pnpm build`);
    dir = mkdtempSync(join(tmpdir(), "ipamd-server-start-"));
    certs = join(dir, "certs");
    execFileSync(
      "sh",
      [MAKE_CERTS, "--out", certs, "--days", "2", "--nodes", "node-named,node-unnamed"],
      { stdio: "pipe" },
    );
    addresses = [];
    for (let i = 0; i < 3; i++) addresses.push(`localhost:${await freePort()}`);
  });

  afterAll(async () => {
    await Promise.all([...servers, ...others].map((s) => (s === undefined ? undefined : stop(s))));
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("started together, ordinal 0 bootstraps and the others join it", async () => {
    for (const ordinal of [0, 1, 2]) startServer(ordinal);
    const members = await waitForVoters([podName(0), podName(1), podName(2)]);
    expect(members.leader).not.toBe("");
    expect(servers[0]?.output.join("\n")).toContain(
      "bootstrapping a new cluster as ipamd-server-0",
    );
    for (const ordinal of [1, 2]) {
      expect(servers[ordinal]?.output.join("\n")).toContain(
        `joining as ipamd-server-${ordinal} (${addresses[ordinal]})`,
      );
    }
  });

  it("a restarted server resumes from its data dir", async () => {
    const before = cluster(["status"], addresses[0] ?? "") as { clusterId: string };
    await stop(servers[1] as Running);
    const again = startServer(1);
    await waitFor("the resume line", () =>
      again.output.some((l) => l.includes("was used before: resuming as ipamd-server-1"))
        ? true
        : undefined,
    );
    await waitForVoters([podName(0), podName(1), podName(2)], addresses[1]);
    const after = cluster(["status"], addresses[1] ?? "") as { clusterId: string };
    expect(after.clusterId).toBe(before.clusterId);
  });

  it.each([2, 0])(
    "ordinal %i, its data dir lost while still a voter, refuses to start until it is removed, then joins again",
    async (ordinal) => {
      const { clusterId } = cluster(["status"], addresses[1] ?? "") as { clusterId: string };
      await stop(servers[ordinal] as Running, "SIGKILL");
      rmSync(join(dir, podName(ordinal)), { recursive: true, force: true });

      const refused = startServer(ordinal);
      expect(await refused.exited).toBe(1);
      const said = refused.output.join("\n");
      expect(said).toContain(`${podName(ordinal)} is still a voter of the cluster`);
      expect(said).toContain(`ipamd cluster leave --node-id ${podName(ordinal)}`);
      expect(said).not.toContain("bootstrapping");

      const healthy = addresses[ordinal === 0 ? 1 : 0] ?? "";
      const left = await waitFor("cluster leave", () =>
        cluster(["leave", "--node-id", podName(ordinal)], healthy),
      );
      expect(JSON.stringify(left)).not.toContain(`"id":"${podName(ordinal)}"`);

      if (ordinal === 2) {
        // As a joiner stopped before it received any Raft state leaves its data dir: only the
        // cluster's identity. Started again, it must finish joining.
        mkdirSync(join(dir, podName(ordinal)));
        writeFileSync(
          join(dir, podName(ordinal), "raft-cluster.json"),
          JSON.stringify({ clusterId, nodeId: podName(ordinal) }),
        );
      }
      const rejoined = startServer(ordinal);
      await waitForVoters([podName(0), podName(1), podName(2)], healthy);
      expect(rejoined.output.join("\n")).toContain(
        ordinal === 2
          ? `was used before: resuming as ${podName(ordinal)} (or finishing its join)`
          : `fresh data dir, cluster found at ${addresses.filter((_, i) => i !== ordinal).join(",")}: joining as ${podName(ordinal)}`,
      );
      await waitFor("the joiner's own log line", () =>
        rejoined.output.some((l) => l.includes("joined the Raft group as a voter"))
          ? true
          : undefined,
      );
      const status = cluster(["status"], addresses[ordinal] ?? "") as { clusterId: string };
      expect(status.clusterId).toBe(clusterId);
    },
    600_000,
  );

  it("an agent reaches the servers by IP with --tls-server-name, and is refused without it", async () => {
    const ip = `127.0.0.1:${addresses[2]?.split(":")[1]}`;
    const agent = (name: string, extra: string[]) => {
      const socket = join(dir, `${name}.sock`);
      const running = start(
        process.execPath,
        [
          IPAMD,
          ...["--role", "agent", "--node-id", name, "--tor", "tor-a1-1", "--servers", ip],
          ...["--data-dir", join(dir, name), "--unix-socket", socket, "--metrics-addr", "off"],
          // Its own node certificate: the servers authorise a node for itself only.
          ...tlsFlags(`node-${name}`),
          ...extra,
        ],
        {},
      );
      others.push(running);
      return { running, socket };
    };
    const named = agent("node-named", ["--tls-server-name", SERVER_NAME]);
    const allocated = await waitFor("an allocation through the agent", () => {
      const run = spawnSync(
        process.execPath,
        [IPAMD, "allocate", "--network", "pods", "--container", "c1"].concat([
          "--unix-socket",
          named.socket,
        ]),
        { encoding: "utf8", timeout: 120_000 },
      );
      return run.status === 0 ? run.stdout : undefined;
    });
    expect(allocated).toMatch(/10\.99\.\d+\.\d+/);

    const unnamed = agent("node-unnamed", []);
    await waitFor("the agent to report the certificate mismatch", () =>
      unnamed.running.output.some(
        (l) => l.includes("waiting for a cluster server to answer") && /altnames|IP: 127/.test(l),
      )
        ? true
        : undefined,
    );
  });
});
