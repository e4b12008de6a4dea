import { createGunzip } from "node:zlib";
import { describe, expect, it } from "vitest";
import { classifyUncaught } from "./last-resort.js";

function zlibError(): Promise<Error> {
  return new Promise((resolve) => {
    const gunzip = createGunzip();
    gunzip.on("error", resolve);
    gunzip.end(Buffer.from("not gzip at all"));
  });
}

const coded = (code: string, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(code), { code, ...extra });

describe("classifyUncaught", () => {
  it("recognises the zlib error @grpc/grpc-js 1.14.3 let escape as per-request", async () => {
    expect(classifyUncaught(await zlibError())).toBe("zlib");
  });

  it("confines HTTP/2, TLS and socket errors to their stream or connection", () => {
    expect(classifyUncaught(coded("ERR_HTTP2_STREAM_ERROR"))).toBe("http2");
    expect(classifyUncaught(coded("ERR_SSL_WRONG_VERSION_NUMBER"))).toBe("tls");
    expect(classifyUncaught(coded("ERR_TLS_HANDSHAKE_TIMEOUT"))).toBe("tls");
    expect(classifyUncaught(coded("ECONNRESET", { syscall: "read" }))).toBe("socket");
    expect(classifyUncaught(coded("EPIPE", { syscall: "write" }))).toBe("socket");
  });

  it("calls everything else a bug", () => {
    expect(classifyUncaught(new TypeError("x is undefined"))).toBe("bug");
    expect(classifyUncaught(coded("ECONNRESET"))).toBe("bug"); // not from a socket operation
    expect(classifyUncaught(coded("Z_DATA_ERROR"))).toBe("bug"); // no zlib errno
    expect(classifyUncaught(coded("INVALID_ARGUMENT"))).toBe("bug");
    expect(classifyUncaught(coded("SQLITE_CORRUPT"))).toBe("bug");
    expect(classifyUncaught("a thrown string")).toBe("bug");
    expect(classifyUncaught({ code: "ERR_HTTP2_STREAM_ERROR" })).toBe("bug"); // not an Error
    expect(classifyUncaught(undefined)).toBe("bug");
  });
});
