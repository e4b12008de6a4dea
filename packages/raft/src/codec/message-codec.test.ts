import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RaftError } from "../core/raft-error.js";
import type { ConfState, Entry, Message, SnapshotMeta } from "../types.js";
import { decodeEntries, decodeMessages, encodeEntries, encodeMessages } from "./message-codec.js";

const idArb = fc.string({ minLength: 1, maxLength: 12, unit: "grapheme" });
const uint = fc.oneof(fc.nat(1000), fc.nat(), fc.maxSafeNat());
const bytesArb = fc.uint8Array({ maxLength: 64 });
const entryTypeArb = fc.constantFrom("normal", "config", "noop") as fc.Arbitrary<Entry["type"]>;

const confArb: fc.Arbitrary<ConfState> = fc
  .record({
    voters: fc.array(idArb, { maxLength: 5 }),
    learners: fc.array(idArb, { maxLength: 3 }),
    addresses: fc.option(fc.dictionary(idArb, fc.string({ maxLength: 20 }), { maxKeys: 4 }), {
      nil: undefined,
    }),
  })
  .map(({ voters, learners, addresses }) =>
    addresses === undefined ? { voters, learners } : { voters, learners, addresses },
  );

const metaArb: fc.Arbitrary<SnapshotMeta> = fc.record({ index: uint, term: uint, conf: confArb });

const base = { from: idArb, to: idArb, term: uint };

const appendArb = fc
  .record({
    ...base,
    prevIndex: fc.nat(1_000_000),
    prevTerm: uint,
    commit: uint,
    entries: fc.array(fc.record({ term: uint, type: entryTypeArb, data: bytesArb }), {
      maxLength: 6,
    }),
  })
  .map(
    (m): Message => ({
      type: "append",
      from: m.from,
      to: m.to,
      term: m.term,
      prevIndex: m.prevIndex,
      prevTerm: m.prevTerm,
      commit: m.commit,
      entries: m.entries.map((e, i) => ({ ...e, index: m.prevIndex + 1 + i })),
    }),
  );

const messageArb: fc.Arbitrary<Message> = fc.oneof(
  appendArb,
  fc
    .record({
      ...base,
      reject: fc.boolean(),
      index: uint,
      hint: fc.option(fc.record({ index: uint, term: uint }), { nil: undefined }),
    })
    .map(({ hint, ...m }): Message => {
      const msg = { type: "append-response" as const, ...m };
      return hint === undefined ? msg : { ...msg, rejectHint: hint };
    }),
  fc
    .record({
      ...base,
      type: fc.constantFrom("vote" as const, "prevote" as const),
      lastIndex: uint,
      lastTerm: uint,
      transfer: fc.boolean(),
    })
    .map((m): Message => m),
  fc
    .record({
      ...base,
      type: fc.constantFrom("vote-response" as const, "prevote-response" as const),
      reject: fc.boolean(),
    })
    .map((m): Message => m),
  fc
    .record({ ...base, type: fc.constant("heartbeat" as const), commit: uint, context: bytesArb })
    .map((m): Message => m),
  fc
    .record({
      ...base,
      type: fc.constantFrom("heartbeat-response" as const, "read-index" as const),
      context: bytesArb,
    })
    .map((m): Message => m),
  fc
    .record({
      ...base,
      type: fc.constant("snapshot" as const),
      meta: metaArb,
      offset: uint,
      total: uint,
      data: bytesArb,
      done: fc.boolean(),
    })
    .map((m): Message => m),
  fc
    .record({
      ...base,
      type: fc.constant("snapshot-response" as const),
      index: uint,
      offset: uint,
      reject: fc.boolean(),
      done: fc.boolean(),
    })
    .map((m): Message => m),
  fc.record({ ...base, type: fc.constant("timeout-now" as const) }).map((m): Message => m),
  fc
    .record({
      ...base,
      type: fc.constant("read-index-response" as const),
      index: uint,
      context: bytesArb,
      reject: fc.boolean(),
    })
    .map((m): Message => m),
);

/** Byte views compare by content: normalise to plain arrays for deep equality. */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return { bytes: [...value] };
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

function expectCorrupt(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RaftError);
    expect((err as RaftError).code).toBe("CORRUPT");
    return;
  }
  throw new Error("expected a CORRUPT RaftError");
}

describe("message codec", () => {
  it("round-trips every message type (property)", () => {
    fc.assert(
      fc.property(fc.array(messageArb, { maxLength: 8 }), (messages) => {
        const decoded = decodeMessages(encodeMessages(messages));
        expect(plain(decoded)).toEqual(plain(messages));
      }),
      { numRuns: 500 },
    );
  });

  it("rejects every truncation of a valid batch with CORRUPT", () => {
    fc.assert(
      fc.property(fc.array(messageArb, { minLength: 1, maxLength: 4 }), (messages) => {
        const bytes = encodeMessages(messages);
        for (let len = 0; len < bytes.length; len++) {
          expectCorrupt(() => decodeMessages(bytes.subarray(0, len)));
        }
      }),
      { numRuns: 100 },
    );
  });

  it("never crashes on garbage: decodes or throws CORRUPT (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (noise, withHeader) => {
        const bytes = withHeader ? new Uint8Array([0x52, 0x46, 1, ...noise]) : noise;
        try {
          decodeMessages(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(RaftError);
          expect((err as RaftError).code).toBe("CORRUPT");
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("rejects trailing bytes, an unknown version and an unknown type", () => {
    const ok = encodeMessages([{ type: "timeout-now", from: "a", to: "b", term: 3 }]);
    expectCorrupt(() => decodeMessages(new Uint8Array([...ok, 0])));
    const v2 = ok.slice();
    v2[2] = 2;
    expectCorrupt(() => decodeMessages(v2));
    const badType = ok.slice();
    badType[4] = 99;
    expectCorrupt(() => decodeMessages(badType));
  });

  it("names the bad field when encoding an invalid number", () => {
    const bad: Message = { type: "timeout-now", from: "a", to: "b", term: -1 };
    expect(() => encodeMessages([bad])).toThrow(/messages\[0\]\.term/);
    const gap: Message = {
      type: "append",
      from: "a",
      to: "b",
      term: 1,
      prevIndex: 4,
      prevTerm: 1,
      commit: 0,
      entries: [{ index: 6, term: 1, type: "normal", data: new Uint8Array() }],
    };
    expect(() => encodeMessages([gap])).toThrow(/messages\[0\]\.entries\[0\]\.index/);
  });

  it("round-trips entries with explicit indexes (property)", () => {
    const entryArb = fc.record({ index: uint, term: uint, type: entryTypeArb, data: bytesArb });
    fc.assert(
      fc.property(fc.array(entryArb, { maxLength: 10 }), (entries) => {
        expect(plain(decodeEntries(encodeEntries(entries)))).toEqual(plain(entries));
      }),
    );
    const bytes = encodeEntries([{ index: 1, term: 1, type: "normal", data: new Uint8Array(9) }]);
    expectCorrupt(() => decodeEntries(bytes.subarray(0, bytes.length - 1)));
  });
});
