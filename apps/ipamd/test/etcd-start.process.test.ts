import { randomBytes } from "node:crypto";
import { createClusterClient } from "@ipam/grpc-server";
import { afterAll, describe, expect, it } from "vitest";
import { EtcdClient } from "../src/etcd/etcd-client.js";
import { bytes, text } from "../src/etcd/etcd-keys.js";
import { killAllEtcd, startEtcdCluster } from "./helpers/etcd.js";
import {
  freePort,
  type IpamdProcess,
  killAll,
  logsOf,
  spawnIpamd,
  tempDir,
  waitFor,
} from "./helpers/processes.js";

// A server on --cluster-store etcd that cannot use the etcd prefix it was given exits 1 at
// start with a message naming the cause and the flag to fix, and writes nothing: etcd not
// answering, a prefix holding another application's keys (or another cluster's, below it),
// a prefix written by an ipamd with another key layout.

const closers: Array<{ close(): void }> = [];
afterAll(async () => {
  for (const c of closers) c.close();
  await killAll();
  await killAllEtcd();
});

async function server(
  id: string,
  endpoints: string,
  prefix: string,
  extra: readonly string[] = [],
): Promise<{ proc: IpamdProcess; address: string }> {
  const address = `127.0.0.1:${await freePort()}`;
  const proc = spawnIpamd(id, [
    "--role",
    "server",
    "--node-id",
    id,
    "--grpc-addr",
    address,
    "--data-dir",
    tempDir(`ipamd-etcd-start-${id}`),
    "--metrics-addr",
    "off",
    "--log-format",
    "json",
    "--cluster-store",
    "etcd",
    "--etcd-endpoints",
    endpoints,
    "--etcd-prefix",
    prefix,
    ...extra,
  ]);
  return { proc, address };
}

const newPrefix = () => `/ipamd-test/${randomBytes(4).toString("hex")}`;

describe("etcd store: start-up refusals", () => {
  it("exits 1 naming --etcd-endpoints when etcd does not answer", async () => {
    const nobody = `127.0.0.1:${await freePort()}`;
    const { proc } = await server("u1", nobody, newPrefix(), ["--etcd-start-timeout", "2"]);
    expect(await proc.exited()).toBe(1);
    const log = proc.log.join("\n");
    expect(log).toContain(`etcd unreachable: no answer from ${nobody}`);
    expect(log).toContain("--etcd-endpoints");
  }, 120_000);

  it("exits 1 on a prefix with foreign keys or another layout, and leaves them as they were", async () => {
    const etcd = await startEtcdCluster(1);
    const client = new EtcdClient({ endpoints: [etcd.endpoints] });
    closers.push(client);
    const get = async (key: string) => {
      const r = await client.range({ key: bytes(key) });
      return r.kvs[0] === undefined ? undefined : text(r.kvs[0].value);
    };

    // Another application's keys.
    const foreign = newPrefix();
    await client.put({ key: bytes(`${foreign}/config`), value: bytes("theirs") });
    const s1 = await server("f1", etcd.endpoints, foreign);
    expect(await s1.proc.exited()).toBe(1);
    expect(s1.proc.log.join("\n")).toContain(
      `--etcd-prefix: ${foreign}/ holds keys ipamd did not write (${foreign}/config)`,
    );
    expect(await get(`${foreign}/layout`)).toBeUndefined();
    expect(await get(`${foreign}/config`)).toBe("theirs");

    // Another ipamd's key layout.
    const future = newPrefix();
    await client.put({ key: bytes(`${future}/layout`), value: bytes("ipamd-etcd/9") });
    const s2 = await server("v1", etcd.endpoints, future);
    expect(await s2.proc.exited()).toBe(1);
    expect(s2.proc.log.join("\n")).toContain(
      `--etcd-prefix: ${future}/ holds ipamd keys in layout ipamd-etcd/9;`,
    );
    expect(await get(`${future}/layout`)).toBe("ipamd-etcd/9");
    expect(await get(`${future}/cluster-id`)).toBeUndefined();

    // A cluster's own prefix works and is marked; its parent is refused.
    const parent = newPrefix();
    const good = await server("g1", etcd.endpoints, `${parent}/c1`);
    const c = createClusterClient({ addresses: [good.address], deadlineMs: 5000 });
    closers.push(c);
    await waitFor(
      "the server on the cluster's own prefix to serve",
      async () => ((await c.getStatus({})).leaderId === "g1" ? true : undefined),
      { timeoutMs: 120_000 },
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${logsOf([good.proc])}`);
    });
    expect(await get(`${parent}/c1/layout`)).toBe("ipamd-etcd/1");
    const s3 = await server("p1", etcd.endpoints, parent);
    expect(await s3.proc.exited()).toBe(1);
    expect(s3.proc.log.join("\n")).toContain(`holds keys ipamd did not write (${parent}/c1/`);
    expect(await get(`${parent}/layout`)).toBeUndefined();
  }, 300_000);
});
