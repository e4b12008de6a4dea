import type { AllocationRecord } from "./allocation-record.js";
import { buildRecord } from "./allocation-record.js";
import type { ItemOutcome } from "./commit-batch.js";
import type { WriteOp } from "./write-op.js";

// How a batch crosses to the commit thread and back. Structured clone copies plain arrays of
// strings and numbers about twice as fast as the same data in objects, and a batch is cloned
// once per event-loop turn under load, on the main thread: so ops travel as one flat array,
// and a save that created its record comes back as `true` (the caller has the record).

/** Field tags of the flat encoding. */
const SAVE = 0;
const DELETE = 1;
const RETAIN = 2;

/** `ops` as one flat array (see {@link decodeOps}). The array holds the ops' own arrays. */
export function encodeOps(ops: readonly WriteOp[]): unknown[] {
  const out: unknown[] = [];
  for (const op of ops) {
    switch (op.kind) {
      case "save": {
        const r = op.record;
        out.push(
          SAVE,
          r.network,
          r.containerId,
          r.ifname,
          r.addresses,
          r.node,
          r.purpose,
          r.subnet,
          r.subnets,
          r.podNamespace,
          r.podName,
          r.createdAt,
          r.podUid,
        );
        break;
      }
      case "delete":
        out.push(DELETE, op.key.network, op.key.containerId, op.key.ifname, op.cooling);
        break;
      case "retain":
        out.push(RETAIN, op.network, op.keep);
        break;
    }
  }
  return out;
}

/** The ops of {@link encodeOps}, in order. Trusts its input: it comes from `encodeOps`. */
export function decodeOps(wire: readonly unknown[]): WriteOp[] {
  const ops: WriteOp[] = [];
  let i = 0;
  const next = <T>() => wire[i++] as T;
  while (i < wire.length) {
    const tag = next<number>();
    if (tag === SAVE) {
      ops.push({
        kind: "save",
        record: buildRecord({
          network: next(),
          containerId: next(),
          ifname: next(),
          addresses: next(),
          node: next(),
          purpose: next(),
          subnet: next(),
          subnets: next(),
          podNamespace: next(),
          podName: next(),
          createdAt: next(),
          podUid: next(),
        }),
      });
    } else if (tag === DELETE) {
      ops.push({
        kind: "delete",
        key: { network: next(), containerId: next(), ifname: next() },
        cooling: next(),
      });
    } else {
      ops.push({ kind: "retain", network: next(), keep: next() });
    }
  }
  return ops;
}

/** Item outcomes for the trip back: a save that created its record becomes `true`. */
export function compactOutcomes(
  ops: readonly WriteOp[],
  items: readonly ItemOutcome[],
): (ItemOutcome | true)[] {
  return items.map((item, k) =>
    item.ok &&
    ops[k]?.kind === "save" &&
    (item.value as { created?: boolean } | undefined)?.created === true
      ? true
      : item,
  );
}

/** The item outcomes of {@link compactOutcomes} again, with the records of `ops`. */
export function expandOutcomes(
  ops: readonly WriteOp[],
  items: readonly (ItemOutcome | true)[],
): ItemOutcome[] {
  return items.map((item, k) => {
    if (item !== true) return item;
    const record = (ops[k] as { record: AllocationRecord }).record;
    return { ok: true, value: { record, created: true } };
  });
}
