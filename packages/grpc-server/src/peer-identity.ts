import type { PeerCertificate } from "node:tls";

/**
 * What a client certificate may do under mutual TLS:
 * - `server`: a member of the Raft group (Raft peer service, forwarding, every Cluster RPC);
 * - `operator`: a person or tool administering the cluster (every Cluster RPC, no Raft);
 * - `node`: one node's agent, acting only for itself (its registration, leases, direct
 *   allocations) plus reads.
 */
export type PeerRole = "server" | "node" | "operator";

/** Every {@link PeerRole}, in the order messages list them. */
export const PEER_ROLES: readonly PeerRole[] = ["server", "operator", "node"];

/** Who a verified client certificate says the caller is. */
export interface PeerIdentity {
  readonly role: PeerRole;
  /** The server, node or operator id (`node-7`). */
  readonly id: string;
}

/**
 * How identities are read from a client certificate. The SAN URI wins over the subject:
 * 1. a SAN URI `spiffe://<trust domain>/<role>/<id>` (role `server`, `node` or `operator`);
 * 2. else the subject's OU naming a role (see `roleOus`), with the subject's CN as the id.
 */
export interface IdentityRules {
  /** The trust domain SAN URIs must name; undefined accepts any. */
  readonly trustDomain?: string;
  /** The OU value that marks each role; default the role's own name (`OU=node`). */
  readonly roleOus?: Readonly<Record<PeerRole, string>>;
}

const DEFAULT_OUS: Readonly<Record<PeerRole, string>> = {
  server: "server",
  node: "node",
  operator: "operator",
};

const SPIFFE = /^spiffe:\/\/([^/]+)\/(server|node|operator)\/([^/]+)$/;

function uris(cert: PeerCertificate): string[] {
  const san = cert.subjectaltname ?? "";
  return san
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry.startsWith("URI:"))
    .map((entry) => entry.slice(4));
}

function values(field: string | string[] | undefined): string[] {
  if (field === undefined) return [];
  return Array.isArray(field) ? field : [field];
}

/**
 * The identity `cert` carries under `rules`, or undefined when it names none (the certificate
 * is then good for health checks and reflection only). Pure: reads the parsed certificate.
 */
export function peerIdentity(
  cert: PeerCertificate,
  rules: IdentityRules = {},
): PeerIdentity | undefined {
  for (const uri of uris(cert)) {
    const m = SPIFFE.exec(uri);
    if (m === null) continue;
    const [, domain, role, id] = m;
    if (rules.trustDomain !== undefined && domain !== rules.trustDomain) continue;
    return { role: role as PeerRole, id: decodeURIComponent(id as string) };
  }
  const ous = rules.roleOus ?? DEFAULT_OUS;
  const cn = values(cert.subject?.CN)[0];
  if (cn === undefined || cn === "") return undefined;
  for (const ou of values(cert.subject?.OU)) {
    for (const role of PEER_ROLES) {
      if (ous[role] === ou) return { role, id: cn };
    }
  }
  return undefined;
}

/** `node node-7`, or the certificate's subject and SAN URIs when it names no identity. */
export function describePeer(identity: PeerIdentity | undefined, cert: PeerCertificate): string {
  if (identity !== undefined) return `${identity.role} ${identity.id}`;
  const subject = Object.entries(cert.subject ?? {})
    .map(([k, v]) => `${k}=${values(v as string | string[]).join("+")}`)
    .join(",");
  const uri = uris(cert);
  return `certificate ${subject === "" ? "(no subject)" : subject}${uri.length === 0 ? "" : ` (URI ${uri.join(", ")})`} with no server, node or operator identity`;
}
