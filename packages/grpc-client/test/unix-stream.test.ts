// The lean client's unix socket on libuv's pipe handle: bytes in order under back-pressure and
// end of stream (the short-lived process that uses it: @ipam/grpc-server's
// test/unix-stream.process.test.ts, which needs a server).

import { createHash } from "node:crypto";
import { createServer, type Socket } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { connectUnixStream, usesLibuvPipe } from "../src/h2/unix-stream.js";
import { tempFolder } from "./support/temp.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function socketPath(): string {
  const dir = tempFolder("ipg-us-");
  cleanups.push(dir.cleanup);
  return join(dir.path, "s.sock");
}

/** A unix socket server; `onSocket` gets each accepted connection. */
async function serve(path: string, onSocket: (socket: Socket) => void): Promise<void> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
}

describe("connectUnixStream on the libuv pipe handle", () => {
  it("is what this Node uses", () => {
    expect(usesLibuvPipe()).toBe(true);
  });

  it("delivers 16 MiB written while the peer is not reading, in order", async () => {
    const path = socketPath();
    const total = 256 * 64 * 1024;
    let allWritten: () => void = () => undefined;
    const written = new Promise<void>((resolve) => {
      allWritten = resolve;
    });
    const received = new Promise<Buffer>((resolve) =>
      serve(path, (socket) => {
        // Read nothing until all 16 MiB are written: the kernel buffer fills and writes go
        // asynchronous.
        socket.pause();
        void written.then(() => socket.resume());
        const chunks: Buffer[] = [];
        let length = 0;
        socket.on("data", (chunk: Buffer) => {
          chunks.push(chunk);
          length += chunk.length;
          // Everything arrived: hang up, which the client sees as the end of its stream.
          if (length >= total) {
            resolve(Buffer.concat(chunks));
            socket.end();
          }
        });
      }),
    );
    const sent = createHash("sha256");
    const stream = connectUnixStream(path);
    const errors: Error[] = [];
    stream.on("error", (error) => errors.push(error));
    const closed = new Promise<void>((resolve) => stream.on("close", resolve));
    // Written before the connection completes as well as after.
    for (let i = 0; i < 256; i++) {
      const chunk = Buffer.alloc(64 * 1024, i);
      chunk.writeUInt32BE(i, 0);
      sent.update(chunk);
      stream.write(chunk);
      if (i === 8) await new Promise<void>((resolve) => stream.once("connect", resolve));
    }
    allWritten();
    const body = await received;
    await closed;
    expect(errors).toEqual([]);
    expect(body.length).toBe(total);
    expect(createHash("sha256").update(body).digest("hex")).toBe(sent.digest("hex"));
  });

  it("reports the peer's end of stream as close, without an error", async () => {
    const path = socketPath();
    await serve(path, (socket) => socket.end("bye"));
    const stream = connectUnixStream(path);
    const errors: Error[] = [];
    const data: Buffer[] = [];
    stream.on("error", (error) => errors.push(error));
    stream.on("data", (chunk) => data.push(chunk));
    await new Promise<void>((resolve) => stream.on("close", resolve));
    expect(Buffer.concat(data).toString()).toBe("bye");
    expect(errors).toEqual([]);
  });

  it("fails with node:net's error shape when the socket is missing", async () => {
    const path = socketPath();
    const stream = connectUnixStream(path);
    const error = await new Promise<NodeJS.ErrnoException>((resolve) =>
      stream.on("error", resolve),
    );
    expect(error.message).toBe(`connect ENOENT ${path}`);
    expect(error).toMatchObject({ code: "ENOENT", syscall: "connect" });
  });
});
