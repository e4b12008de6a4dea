import { chmod, lstat, mkdir, unlink } from "node:fs/promises";
import { connect } from "node:net";
import { dirname } from "node:path";
import { GrpcError } from "@ipam/grpc-client";

function errnoCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** Resolves true when something accepts a connection on the unix socket `path`. */
function socketAnswers(path: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(true);
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

/**
 * Make `path` ready for a server to bind: create its folder (mode 0755, recursive) and remove a
 * stale socket file left by a dead process.
 *
 * @throws GrpcError `SOCKET_IN_USE` when a live server accepts connections on `path` (it is
 *   never removed), `INVALID_ARGUMENT` when `path` exists and is not a socket.
 */
export async function prepareUnixSocket(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return;
    throw error;
  }
  if (!isSocket) {
    throw new GrpcError(
      "INVALID_ARGUMENT",
      `unixSocket.path: ${path} exists and is not a socket; refusing to replace it`,
    );
  }
  if (await socketAnswers(path, 1000)) {
    throw new GrpcError(
      "SOCKET_IN_USE",
      `unixSocket.path: another server is listening on ${path}; refusing to replace it`,
      { details: { path } },
    );
  }
  try {
    await unlink(path);
  } catch (error) {
    if (errnoCode(error) !== "ENOENT") throw error;
  }
}

/** Set the socket file's permission bits (default 0660: owner and group may connect). */
export async function setSocketMode(path: string, mode: number): Promise<void> {
  await chmod(path, mode);
}
