import {
  Metadata,
  ServerInterceptingCall,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
  type ServerMethodDefinition,
} from "@grpc/grpc-js";
import { GRPC_STATUS } from "@ipam/grpc-client";
import { type AccessPolicy, type AccessRule, isOpenMethod } from "./access-policy.js";
import {
  describePeer,
  type IdentityRules,
  PEER_ROLES,
  type PeerIdentity,
  type PeerRole,
  peerIdentity,
} from "./peer-identity.js";

/**
 * The request header that carries the verified caller to the handler (`node/node-7`): set by
 * the authorisation interceptor from the client certificate, never from the client (a value the
 * client sent is dropped). Read it with {@link callerIdentity}.
 */
export const PEER_IDENTITY_HEADER = "x-ipam-peer-identity";

/** Options of {@link authorizationInterceptor}. */
export interface AuthorizationOptions {
  readonly policy: AccessPolicy;
  readonly identities?: IdentityRules;
  /** Called once per refused call with the method and who called; must not throw. */
  readonly onDenied?: (method: string, caller: string, message: string) => void;
}

function roleList(roles: readonly PeerRole[]): string {
  return roles.map((r) => `${r}s`).join(" and ");
}

/** What `identity` may do with this rule, for the refusal message. */
function denial(
  method: string,
  rule: AccessRule,
  caller: string,
  identity: PeerIdentity | undefined,
): string {
  const allowed =
    rule.ownNodes === undefined
      ? roleList(rule.roles)
      : `${roleList(rule.roles)} (and a node for itself)`;
  const may =
    identity === undefined
      ? "a certificate without an identity may only call health and reflection; give it a SAN URI spiffe://<trust-domain>/<server|node|operator>/<id> or an OU naming its role"
      : identity.role === "node"
        ? `a node may register itself, lease, release and allocate for itself (node_id ${identity.id}) and read`
        : `a ${identity.role} may call ${identity.role === "operator" ? "every Cluster and node API RPC but not the Raft peer service" : "every RPC"}`;
  return `${method}: permission denied for ${caller}: this RPC ${rule.what} and is reserved to ${allowed}; ${may}`;
}

/** The rule of `method`: the policy's, else servers and operators only. */
function ruleOf(policy: AccessPolicy, method: string): AccessRule {
  return (
    policy.get(method) ?? { roles: ["server", "operator"], what: "is not in the access policy" }
  );
}

/**
 * A @grpc/grpc-js server interceptor that authorises every call of a mutual-TLS listener from
 * the client certificate: the caller's identity ({@link peerIdentity}) must be allowed by
 * `policy` for the method, and a node calling a method that names nodes must name only itself.
 * A refused call ends with PERMISSION_DENIED naming the caller and what it may do; its handler
 * never runs. Calls without a client certificate (cleartext, unix socket) pass untouched: only
 * install it on a listener that requires client certificates.
 */
export function authorizationInterceptor(options: AuthorizationOptions): ServerInterceptor {
  const { policy } = options;
  return (
    descriptor: ServerMethodDefinition<unknown, unknown>,
    call: ServerInterceptingCallInterface,
  ) => {
    const method = descriptor.path.startsWith("/") ? descriptor.path.slice(1) : descriptor.path;
    const cert = call.getAuthContext().sslPeerCertificate;
    const identity = cert === undefined ? undefined : peerIdentity(cert, options.identities);
    const caller = cert === undefined ? "" : describePeer(identity, cert);
    let refused = false;
    const refuse = (message: string): void => {
      refused = true;
      try {
        options.onDenied?.(method, caller, message);
      } catch {
        // A hook's failure must not change the call's outcome.
      }
      call.sendStatus({
        code: GRPC_STATUS.PERMISSION_DENIED,
        details: message,
        metadata: new Metadata(),
      });
    };
    const rule = ruleOf(policy, method);
    // Decided before the request arrives: no certificate, open methods, roles allowed outright.
    const upfront =
      cert === undefined || isOpenMethod(method)
        ? "allow"
        : identity !== undefined && rule.roles.includes(identity.role)
          ? "allow"
          : identity?.role === "node" && rule.ownNodes !== undefined
            ? "check-request"
            : "deny";
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, nextMetadata) => {
            metadata.remove(PEER_IDENTITY_HEADER);
            if (identity !== undefined) {
              metadata.set(PEER_IDENTITY_HEADER, `${identity.role}/${identity.id}`);
            }
            if (upfront === "deny") {
              refuse(denial(method, rule, caller, identity));
              return;
            }
            nextMetadata(metadata);
          },
          onReceiveMessage: (message, nextMessage) => {
            if (refused) return;
            if (upfront === "check-request" && identity !== undefined) {
              const nodes = rule.ownNodes?.(message) ?? [];
              if (nodes.length === 0 || nodes.some((n) => n !== identity.id)) {
                const named =
                  nodes.length === 0
                    ? "no node"
                    : `node_id ${nodes.find((n) => n !== identity.id) ?? ""}`;
                refuse(
                  `${method}: permission denied for ${caller}: the request names ${named}; a node may only act for itself (node_id ${identity.id})`,
                );
                return;
              }
            }
            nextMessage(message);
          },
          onReceiveHalfClose: (nextHalfClose) => {
            if (!refused) nextHalfClose();
          },
        }),
    });
  };
}

/**
 * The caller of a call on a mutual-TLS listener, as the authorisation interceptor verified it
 * (undefined without one, or for a certificate that names no identity).
 */
export function callerIdentity(metadata: Metadata): PeerIdentity | undefined {
  const value = metadata.get(PEER_IDENTITY_HEADER)[0];
  if (typeof value !== "string") return undefined;
  const slash = value.indexOf("/");
  const role = value.slice(0, slash) as PeerRole;
  if (slash <= 0 || !PEER_ROLES.includes(role)) return undefined;
  return { role, id: value.slice(slash + 1) };
}
