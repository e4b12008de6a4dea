// Public API of @ipam/cni: name every export explicitly (no `export *`).
export type {
  AllocateInput,
  AllocateOutput,
  AttachmentKey,
  BackendAddress,
  BackendDns,
  BackendRoute,
  BackendState,
  CheckOutput,
  IpamBackend,
} from "./backend.js";
export type { GrpcBackendOptions } from "./backend-grpc.js";
export { createGrpcBackend, fromGrpcError } from "./backend-grpc.js";
export type { CniArgs } from "./cni-args.js";
export { parseCniArgs } from "./cni-args.js";
export type { CniCommand, CniEnv, EnvMap } from "./cni-env.js";
export { CNI_COMMANDS, readCniEnv } from "./cni-env.js";
export type { CniErrorCode, CniErrorOptions } from "./cni-error.js";
export { CNI_ERROR_CODES, CniError, cniCodeOf } from "./cni-error.js";
export type { DebugLog, TextSink } from "./debug-log.js";
export type { IpFamily, ParsedCidr, ParsedIp } from "./ip.js";
export { parseCidr, parseIp } from "./ip.js";
export type {
  DecodedConf,
  DnsConfig,
  IpamConfig,
  NetConf,
  RequestedIp,
  RouteConfig,
  ValidAttachment,
} from "./net-conf.js";
export {
  DEFAULT_PURPOSE,
  DEFAULT_SOCKET_PATH,
  DEFAULT_TIMEOUT_MS,
  decodeConf,
  parseNetConf,
  parseValidAttachments,
} from "./net-conf.js";
export type {
  BackendFactory,
  BackendOptions,
  CniErrorJson,
  PluginIo,
} from "./plugin.js";
export { PLUGIN_ABOUT, runPlugin, toErrorJson } from "./plugin.js";
export type { IpamResult, ResultDns, ResultIp, ResultRoute } from "./result.js";
export { buildResult, prevResultAddresses } from "./result.js";
export type { CniVersion } from "./versions.js";
export {
  compareVersions,
  LATEST_VERSION,
  negotiateVersion,
  SUPPORTED_VERSIONS,
} from "./versions.js";
