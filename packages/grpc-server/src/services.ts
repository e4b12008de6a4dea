import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import {
  CLUSTER_SERVER_METHODS,
  Cluster,
  IPAM_SERVER_METHODS,
  Ipam,
} from "@ipam/grpc-client/messages";
import { CLUSTER_REQUEST_LIMITS, IPAM_REQUEST_LIMITS } from "./request-limits.js";
import { createUnaryService, type ServiceBinding, type UnaryHandlers } from "./unary-service.js";

type MethodsOf<S> = S extends GenService<infer M extends GenServiceMethods> ? M : never;

/**
 * The node API (`ipam.v1.Ipam`) as plain async functions taking and returning the generated
 * messages. The daemon implements it over its allocator; tests use in-memory ones. Throw an
 * error with an ipamd `code` to fail a call with the mapped gRPC status.
 */
export type IpamHandlers = UnaryHandlers<MethodsOf<typeof Ipam>>;

/** The cluster API (`ipam.v1.Cluster`), same conventions as {@link IpamHandlers}. */
export type ClusterHandlers = UnaryHandlers<MethodsOf<typeof Cluster>>;

/**
 * Serve `ipam.v1.Ipam` with these handlers; missing ones answer UNIMPLEMENTED. Every request is
 * checked against {@link IPAM_REQUEST_LIMITS} before its handler runs.
 */
export function createIpamService(handlers: Partial<IpamHandlers>): ServiceBinding {
  return createUnaryService(Ipam, handlers, {
    limits: IPAM_REQUEST_LIMITS,
    codecs: IPAM_SERVER_METHODS,
  });
}

/**
 * Serve `ipam.v1.Cluster` with these handlers; missing ones answer UNIMPLEMENTED. Every request
 * is checked against {@link CLUSTER_REQUEST_LIMITS} before its handler runs.
 */
export function createClusterService(handlers: Partial<ClusterHandlers>): ServiceBinding {
  return createUnaryService(Cluster, handlers, {
    limits: CLUSTER_REQUEST_LIMITS,
    codecs: CLUSTER_SERVER_METHODS,
  });
}
