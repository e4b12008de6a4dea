// The plugin process (dist/plugin.cjs, started by the `ipamd-cni` launcher): read stdin, run one
// CNI verb, exit with its code. Kept tiny: the container runtime starts this process for every
// pod interface.
import { fstatSync, readSync, writeSync } from "node:fs";
import { createGrpcBackend } from "./backend-grpc.js";
import { runPlugin } from "./plugin.js";

// Plain file-descriptor I/O: touching process.stdin/stdout builds stream objects (and loads
// their modules), a measurable part of a process that lives ~50 ms.
async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const chunk = Buffer.allocUnsafe(64 * 1024);
  for (;;) {
    let n: number;
    try {
      n = readSync(0, chunk, 0, chunk.length, null);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EOF") break;
      // A non-blocking pipe with nothing in it yet: read the rest as a stream.
      if (code === "EAGAIN") return Buffer.concat([...chunks, await readStdinStream()]);
      throw error;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(chunk.subarray(0, n)));
  }
  return Buffer.concat(chunks);
}

function readStdinStream(): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on("data", (chunk: Buffer) => chunks.push(chunk));
    process.stdin.once("end", () => resolve(Buffer.concat(chunks)));
    process.stdin.once("error", reject);
  });
}

function fdSink(fd: number) {
  return {
    write(text: string): boolean {
      writeSync(fd, text);
      return true;
    },
  };
}

async function main(): Promise<void> {
  let stdin: Buffer;
  try {
    // VERSION needs no stdin; do not wait on a terminal for it.
    stdin =
      process.env.CNI_COMMAND === "VERSION" && fstatSync(0).isCharacterDevice()
        ? Buffer.alloc(0)
        : await readStdin();
  } catch (error) {
    const msg = `error reading from stdin: ${(error as Error).message}`;
    writeSync(1, `${JSON.stringify({ cniVersion: "1.1.0", code: 5, msg, details: "" })}\n`);
    process.exit(5);
  }
  const code = await runPlugin({
    env: process.env,
    stdin,
    stdout: fdSink(1),
    stderr: fdSink(2),
    createBackend: createGrpcBackend,
  });
  // Everything is written synchronously: exit at once instead of waiting for the event loop.
  process.exit(code);
}

void main();
