import type { EtcdClient } from "../etcd/etcd-client.js";
import { etcdFailure } from "../etcd/etcd-errors.js";
import { bytes, type EtcdKeys, prefixEnd, text } from "../etcd/etcd-keys.js";
import { Compare_CompareResult, Compare_CompareTarget } from "../gen/etcdserverpb/rpc_pb.js";
import { IpamdError } from "../ipamd-error.js";

/** The layout of ipamd's keys under a prefix that this build reads and writes. */
export const ETCD_LAYOUT = "ipamd-etcd/1";

/** The key names directly under `<prefix>/` that ipamd writes (a trailing `/`: a folder). */
const OWN = ["layout", "cluster-id", "head", "controller", "log/", "snapshot/", "servers/"];

/** Keys read when looking for keys ipamd did not write under an unmarked prefix. */
const SCAN_LIMIT = 1000n;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The start-up check of a server on `--cluster-store etcd`, before it follows the log:
 * - etcd answers within `timeoutMs` (0: wait for ever), else UNAVAILABLE naming the endpoints,
 *   the last error and the flags to check; refused credentials fail at once;
 * - `<prefix>/layout` is {@link ETCD_LAYOUT}, else INVALID_ARGUMENT (written by another
 *   ipamd version: upgrade, or use another prefix);
 * - a prefix without a layout key holds only ipamd's keys (an empty prefix, or a cluster
 *   imported by `ipamd state import`), else INVALID_ARGUMENT naming a foreign key (the
 *   prefix is another application's, or the parent of another cluster's); the layout key is
 *   then written (create-only, so concurrent servers agree).
 * Reads and writes nothing else; gives up when `stopped()` turns true. @throws IpamdError as above.
 */
export async function checkEtcdLayout(
  client: EtcdClient,
  keys: EtcdKeys,
  timeoutMs: number,
  stopped: () => boolean = () => false,
): Promise<void> {
  const until = timeoutMs > 0 ? Date.now() + timeoutMs : Number.POSITIVE_INFINITY;
  let backoff = 100;
  for (;;) {
    try {
      await checkOnce(client, keys);
      return;
    } catch (err) {
      const kind = etcdFailure(err);
      if ((kind !== "unreachable" && kind !== "auth-token") || stopped()) throw err;
      if (Date.now() + backoff >= until) {
        throw new IpamdError(
          "UNAVAILABLE",
          `etcd unreachable: no answer from ${client.endpoints.join(",")} within ${Math.round(timeoutMs / 1000)} s (${(err as Error).message}); check --etcd-endpoints, that etcd runs, and --etcd-tls-* for https endpoints (--etcd-start-timeout waits longer)`,
          { cause: err, details: { etcd: "unreachable" } },
        );
      }
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 2000);
    }
  }
}

async function checkOnce(client: EtcdClient, keys: EtcdKeys): Promise<void> {
  const layoutKey = bytes(keys.layout);
  const found = await client.range({ key: layoutKey }, { timeoutMs: 3000 });
  const current = found.kvs[0];
  if (current !== undefined) {
    const value = text(current.value);
    if (value !== ETCD_LAYOUT) {
      throw new IpamdError(
        "INVALID_ARGUMENT",
        `--etcd-prefix: ${keys.prefix}/ holds ipamd keys in layout ${value}; this ipamd reads ${ETCD_LAYOUT}: run the ipamd version that wrote it, or choose another --etcd-prefix`,
        { details: { option: "etcd-prefix" } },
      );
    }
    return;
  }
  const start = bytes(`${keys.prefix}/`);
  const listed = await client.range(
    { key: start, rangeEnd: prefixEnd(start), keysOnly: true, limit: SCAN_LIMIT },
    { timeoutMs: 3000 },
  );
  for (const kv of listed.kvs) {
    const name = text(kv.key).slice(keys.prefix.length + 1);
    const own = OWN.some((o) => (o.endsWith("/") ? name.startsWith(o) : name === o));
    if (!own) {
      throw new IpamdError(
        "INVALID_ARGUMENT",
        `--etcd-prefix: ${keys.prefix}/ holds keys ipamd did not write (${text(kv.key)}): give each cluster its own unused prefix, e.g. /ipamd/<cluster-name>, not another application's or the parent of another cluster's`,
        { details: { option: "etcd-prefix" } },
      );
    }
  }
  // Create-only: servers starting together all succeed, whichever wrote it.
  await client.txn(
    {
      compare: [
        {
          key: layoutKey,
          target: Compare_CompareTarget.CREATE,
          result: Compare_CompareResult.EQUAL,
          targetUnion: { case: "createRevision", value: 0n },
        },
      ],
      success: [
        { request: { case: "requestPut", value: { key: layoutKey, value: bytes(ETCD_LAYOUT) } } },
      ],
    },
    { timeoutMs: 3000 },
  );
  // Another server may have written a different layout meanwhile: check again.
  const again = await client.range({ key: layoutKey }, { timeoutMs: 3000 });
  const written = again.kvs[0];
  if (written === undefined || text(written.value) !== ETCD_LAYOUT) await checkOnce(client, keys);
}
