import type { Message, SnapshotMessage } from "@ipam/raft";
import { afterEach, describe, expect, it } from "vitest";
import { type GrpcError, type GrpcServer, startGrpcServer } from "../src/index.js";
import { GrpcRaftTransport, type PeerRefusal, raftMessageCodec } from "../src/raft.js";
import { waitFor } from "./support/temp.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function heartbeat(from: string, to: string, commit: number): Message {
  return { type: "heartbeat", from, to, term: 3, commit, context: new Uint8Array([commit % 256]) };
}

interface Peer {
  readonly transport: GrpcRaftTransport;
  readonly received: Message[];
  readonly batches: number[];
  server: GrpcServer;
  port: number;
}

async function peer(
  id: string,
  clusterId = "c1",
  port = 0,
  onError: (error: GrpcError) => void = () => undefined,
): Promise<Peer> {
  const transport = new GrpcRaftTransport({
    onError,
    id,
    clusterId,
    peers: {},
    random: () => 0.5,
    backoff: { initialMs: 10, maxMs: 100 },
  });
  const received: Message[] = [];
  const batches: number[] = [];
  transport.onReceive((messages) => {
    received.push(...messages);
    batches.push(messages.length);
  });
  const server = await startGrpcServer({
    tcp: { host: "127.0.0.1", port },
    services: [transport.service()],
  });
  const p: Peer = { transport, received, batches, server, port: server.tcpPort ?? 0 };
  cleanups.push(async () => {
    await p.transport.close();
    await p.server.shutdown(100);
  });
  return p;
}

describe("GrpcRaftTransport", () => {
  it("delivers messages in order over one stream, batching a tick's sends", async () => {
    const a = await peer("a");
    const b = await peer("b");
    a.transport.setPeers({ b: `127.0.0.1:${b.port}` });
    for (let i = 0; i < 1000; i++) a.transport.send("b", [heartbeat("a", "b", i)]);
    await waitFor(() => b.received.length === 1000);
    expect(b.received.map((m) => (m.type === "heartbeat" ? m.commit : -1))).toEqual(
      Array.from({ length: 1000 }, (_, i) => i),
    );
    expect([...(b.received[7] as { context: Uint8Array }).context]).toEqual([7]);
    // One tick of sends → a couple of batches (512 per batch), never one call per message.
    expect(a.transport.stats()).toMatchObject({
      streamsOpened: 1,
      batchesSent: 2,
      messagesSent: 1000,
    });

    for (let round = 0; round < 20; round++) a.transport.send("b", [heartbeat("a", "b", round)]);
    await waitFor(() => b.received.length === 1020);
    expect(a.transport.stats().streamsOpened).toBe(1);
  });

  it("carries messages in @ipam/raft's binary format by default", () => {
    const append: Message = {
      type: "append",
      from: "a",
      to: "b",
      term: 4,
      prevIndex: 9,
      prevTerm: 3,
      commit: 8,
      entries: [{ index: 10, term: 4, type: "normal", data: new Uint8Array([1, 2, 3]) }],
    };
    const back = raftMessageCodec.decode(raftMessageCodec.encode(append));
    expect(back).toEqual(append);
    expect(() => raftMessageCodec.decode(new Uint8Array([1, 2, 3]))).toThrow();
  });

  it("splits batches at maxBatchBytes", async () => {
    const a = new GrpcRaftTransport({
      id: "a",
      clusterId: "c1",
      peers: {},
      random: () => 0.5,
      maxBatchBytes: 4096,
    });
    cleanups.push(() => a.close());
    const b = await peer("b");
    a.setPeers({ b: `127.0.0.1:${b.port}` });
    const big = (i: number): Message => ({
      type: "append",
      from: "a",
      to: "b",
      term: 1,
      prevIndex: i,
      prevTerm: 1,
      commit: 0,
      entries: [{ index: i + 1, term: 1, type: "normal", data: new Uint8Array(1500) }],
    });
    a.send(
      "b",
      Array.from({ length: 10 }, (_, i) => big(i)),
    );
    await waitFor(() => b.received.length === 10);
    // ~1.5 KB each, 4 KB per batch: 2 per batch.
    expect(a.stats().batchesSent).toBe(5);
    expect(b.batches.every((n) => n <= 2)).toBe(true);
  });

  it("drops messages for unknown peers and after close", async () => {
    const a = await peer("a");
    a.transport.send("nobody", [heartbeat("a", "nobody", 1)]);
    await a.transport.close();
    a.transport.send("nobody", [heartbeat("a", "nobody", 2)]);
    expect(a.transport.stats().messagesDropped).toBe(2);
  });

  it("queues while the peer is down and reconnects with backoff when it returns", async () => {
    const a = await peer("a");
    let b = await peer("b");
    const port = b.port;
    a.transport.setPeers({ b: `127.0.0.1:${port}` });
    a.transport.send("b", [heartbeat("a", "b", 1)]);
    await waitFor(() => b.received.length === 1);

    await b.transport.close();
    await b.server.shutdown(100);
    await waitFor(() => a.transport.stats().reconnects >= 1);
    a.transport.send("b", [heartbeat("a", "b", 2), heartbeat("a", "b", 3)]);

    b = await peer("b", "c1", port);
    await waitFor(() => b.received.length >= 2);
    expect(b.received.map((m) => (m.type === "heartbeat" ? m.commit : -1))).toEqual([2, 3]);
    expect(a.transport.stats().streamsOpened).toBeGreaterThanOrEqual(2);
  });

  it("refuses batches from another cluster", async () => {
    const errors: GrpcError[] = [];
    const a = await peer("a", "other-cluster");
    const b = await peer("b", "c1", 0, (error) => errors.push(error));
    a.transport.setPeers({ b: `127.0.0.1:${b.port}` });
    a.transport.send("b", [heartbeat("a", "b", 1)]);
    await waitFor(() => a.transport.stats().reconnects >= 1);
    expect(b.received).toEqual([]);
    expect(errors[0]).toMatchObject({ code: "CONFLICT" });
    expect(errors[0]?.message).toContain("other-cluster");
  });

  it("refuses a sender checkSender turns away with NOT_MEMBER and the config index; the sender hears of it", async () => {
    const refusals: PeerRefusal[] = [];
    const a = new GrpcRaftTransport({
      id: "a",
      clusterId: "c1",
      peers: {},
      random: () => 0.5,
      backoff: { initialMs: 10, maxMs: 100 },
      onRefused: (r) => refusals.push(r),
    });
    cleanups.push(() => a.close());
    const received: Message[] = [];
    const b = new GrpcRaftTransport({
      id: "b",
      clusterId: "c1",
      peers: {},
      random: () => 0.5,
      checkSender: (from, messages) =>
        from === "a" && messages.some((m) => m.type === "prevote")
          ? { configIndex: 42, reason: "a is not a member of cluster c1" }
          : undefined,
    });
    b.onReceive((m) => received.push(...m));
    const server = await startGrpcServer({
      tcp: { host: "127.0.0.1", port: 0 },
      services: [b.service()],
    });
    cleanups.push(async () => {
      await b.close();
      await server.shutdown(100);
    });
    a.setPeers({ b: `127.0.0.1:${server.tcpPort}` });
    // Admitted: the hook lets it through.
    a.send("b", [heartbeat("a", "b", 1)]);
    await waitFor(() => received.length === 1);
    const prevote: Message = {
      type: "prevote",
      from: "a",
      to: "b",
      term: 4,
      lastIndex: 9,
      lastTerm: 3,
      transfer: false,
    };
    a.send("b", [prevote]);
    await waitFor(() => refusals.length > 0);
    expect(refusals[0]).toEqual({
      peer: "b",
      configIndex: 42,
      reason: "a is not a member of cluster c1",
    });
    expect(received).toHaveLength(1);
  });

  it("drops batches addressed to another member (stale address book)", async () => {
    const errors: GrpcError[] = [];
    const a = await peer("a");
    const c = await peer("c", "c1", 0, (error) => errors.push(error));
    a.transport.setPeers({ b: `127.0.0.1:${c.port}` }); // b's entry points at c
    a.transport.send("b", [heartbeat("a", "b", 1)]);
    await waitFor(() => errors.length > 0);
    expect(c.received).toEqual([]);
    expect(errors[0]?.message).toContain("addressed to b");
  });

  it("sends snapshot chunks over InstallSnapshot, not the message stream", async () => {
    const a = await peer("a");
    const b = await peer("b");
    a.transport.setPeers({ b: `127.0.0.1:${b.port}` });
    const data = new Uint8Array(300_000).map((_, i) => i % 251);
    const meta = { index: 42, term: 3, conf: { voters: ["a", "b"], learners: [] } };
    const chunks: SnapshotMessage[] = [0, 100_000, 200_000].map((offset) => ({
      type: "snapshot",
      from: "a",
      to: "b",
      term: 3,
      meta,
      offset,
      total: data.byteLength,
      data: data.subarray(offset, offset + 100_000),
      done: offset === 200_000,
    }));
    for (const chunk of chunks) a.transport.send("b", [chunk]);
    await waitFor(() => b.received.length === 3);
    const got = b.received as SnapshotMessage[];
    expect(got.map((m) => [m.type, m.offset, m.done, m.meta.index])).toEqual([
      ["snapshot", 0, false, 42],
      ["snapshot", 100_000, false, 42],
      ["snapshot", 200_000, true, 42],
    ]);
    // Compared as bytes: a deep toEqual of 300 KB takes seconds of CPU.
    const joined = Buffer.concat(got.map((m) => m.data));
    expect(joined.length).toBe(data.byteLength);
    expect(joined.equals(data)).toBe(true);
    expect(a.transport.stats()).toMatchObject({ snapshotStreams: 1, streamsOpened: 0 });
  });
});
