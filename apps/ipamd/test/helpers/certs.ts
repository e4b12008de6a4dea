import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** PEM files (paths) and contents of a throw-away CA and one certificate for 127.0.0.1. */
export interface TestCerts {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/**
 * A CA and one EC certificate for 127.0.0.1/localhost signed by it, made with openssl in `dir`;
 * the same certificate serves as server and client certificate (mutual TLS).
 */
export function makeCerts(dir: string): TestCerts {
  const openssl = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=ca"]);
  writeFileSync(join(dir, "srv.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  openssl(["req", ...ec, "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=server"]);
  openssl([
    ...["x509", "-req", "-in", "srv.csr", "-CA", "ca.crt", "-CAkey", "ca.key"],
    ...["-CAcreateserial", "-out", "srv.crt", "-days", "2", "-extfile", "srv.ext"],
  ]);
  const caFile = join(dir, "ca.crt");
  const certFile = join(dir, "srv.crt");
  const keyFile = join(dir, "srv.key");
  return {
    caFile,
    certFile,
    keyFile,
    ca: readFileSync(caFile),
    cert: readFileSync(certFile),
    key: readFileSync(keyFile),
  };
}
