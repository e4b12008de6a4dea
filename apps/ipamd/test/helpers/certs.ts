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
 * the same certificate serves as server and client certificate (mutual TLS). It carries the
 * server identity `spiffe://ipam.test/server/test`, which may call every RPC.
 */
export function makeCerts(dir: string): TestCerts {
  const openssl = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=ca"]);
  writeFileSync(
    join(dir, "srv.ext"),
    "subjectAltName=IP:127.0.0.1,DNS:localhost,URI:spiffe://ipam.test/server/test\n",
  );
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

/** PEM files of one more certificate signed by the CA of {@link makeCerts} in the same `dir`. */
export interface IssuedCert {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/**
 * A certificate named `name` signed by the CA `makeCerts(dir)` made, with subject `subject`
 * (`/OU=operator/CN=alice`) and the subjectAltName `san` (`IP:127.0.0.1,URI:spiffe://…`).
 */
export function issueCert(dir: string, name: string, subject: string, san: string): IssuedCert {
  const openssl = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\n`);
  openssl(["req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject]);
  openssl([
    ...["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key"],
    ...["-CAcreateserial", "-out", `${name}.crt`, "-days", "2", "-extfile", `${name}.ext`],
  ]);
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  return { certFile, keyFile, cert: readFileSync(certFile), key: readFileSync(keyFile) };
}
