#!/usr/bin/env node
// The `ipamd-cni` executable: read stdin, run one CNI verb, exit with its code. Kept tiny: the
// container runtime starts this process for every pod interface.
import { createGrpcBackend } from "./backend-grpc.js";
import { runPlugin } from "./plugin.js";

function readStdin(): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on("data", (chunk: Buffer) => chunks.push(chunk));
    process.stdin.once("end", () => resolve(Buffer.concat(chunks)));
    process.stdin.once("error", reject);
  });
}

async function main(): Promise<void> {
  let stdin: Buffer;
  try {
    // VERSION needs no stdin; do not wait on a terminal for it.
    stdin =
      process.env.CNI_COMMAND === "VERSION" && process.stdin.isTTY
        ? Buffer.alloc(0)
        : await readStdin();
  } catch (error) {
    const msg = `error reading from stdin: ${(error as Error).message}`;
    process.stdout.write(`${JSON.stringify({ cniVersion: "1.1.0", code: 5, msg, details: "" })}\n`);
    process.exit(5);
  }
  const code = await runPlugin({
    env: process.env,
    stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    createBackend: createGrpcBackend,
  });
  // stdout to a pipe or file is synchronous on Linux; exit at once instead of waiting for
  // the event loop to drain.
  process.exit(code);
}

void main();
