import { describe, expect, it } from "vitest";
import { bytes, EtcdKeys, prefixEnd, text } from "./etcd-keys.js";

describe("etcd keys", () => {
  it("ends a prefix range after every key that starts with it", () => {
    expect(text(prefixEnd(bytes("/ipamd/a/log/")))).toBe("/ipamd/a/log0");
    expect([...prefixEnd(new Uint8Array([0x61, 0xff]))]).toEqual([0x62]);
    expect([...prefixEnd(new Uint8Array([0xff, 0xff]))]).toEqual([0]);
  });

  it("puts every key of a cluster under <prefix>/", () => {
    const k = new EtcdKeys("/ipamd/prod/");
    expect(k.prefix).toBe("/ipamd/prod");
    for (const key of [
      k.log,
      k.logEntry("x"),
      k.head,
      k.snapshotMeta,
      k.snapshotChunk("s", 3),
      k.clusterId,
      k.controller,
      k.server("s1"),
    ]) {
      expect(key.startsWith("/ipamd/prod/")).toBe(true);
    }
    expect(k.snapshotChunk("s", 3)).toBe("/ipamd/prod/snapshot/data/s/000003");
  });
});
