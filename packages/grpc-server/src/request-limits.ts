import type { DescMessage } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import {
  AddLearnerRequestSchema,
  AddressEventSchema,
  AddressHistoryRequestSchema,
  AddSubnetRequestSchema,
  AddVoterRequestSchema,
  AllocateDirectRequestSchema,
  AllocateRequestSchema,
  AllocationKeySchema,
  ApplyTopologyRequestSchema,
  AttachmentSchema,
  BindStickyRequestSchema,
  BlockReportSchema,
  CarveSubnetRequestSchema,
  CheckRequestSchema,
  ClaimBlockRequestSchema,
  type Cluster,
  DeregisterNodeRequestSchema,
  DirectAllocateItemSchema,
  DrainSubnetRequestSchema,
  FamilySchema,
  FamilySelectionSchema,
  ForecastRequestSchema,
  GarbageCollectRequestSchema,
  GetLeaderRequestSchema,
  GetNodeBlocksRequestSchema,
  GetNodeLeasesRequestSchema,
  GetPoolStatsRequestSchema,
  GetRuntimeViewRequestSchema,
  GetStatsRequestSchema,
  GetStatusRequestSchema,
  GetStickyBindingRequestSchema,
  GetTopologyRequestSchema,
  type Ipam,
  LeaseBlockRequestSchema,
  ListAllocationsRequestSchema,
  ListBlocksRequestSchema,
  ListReservationsRequestSchema,
  RegisterNodeRequestSchema,
  ReleaseBlockRequestSchema,
  ReleaseDirectRequestSchema,
  ReleaseRequestSchema,
  ReleaseStickyRequestSchema,
  RemoveMemberRequestSchema,
  RemoveSubnetRequestSchema,
  ReportAddressEventsRequestSchema,
  ReportNodeRequestSchema,
  ReserveRangeRequestSchema,
  StatsLevelSchema,
  StatusRequestSchema,
  SubnetSchema,
  TakeSnapshotRequestSchema,
  TransferLeadershipRequestSchema,
  UnreserveRangeRequestSchema,
} from "@ipam/grpc-client/messages";
import {
  anyValue,
  atMost,
  entries,
  enumValue,
  type FieldRule,
  list,
  type MessageLimits,
  messageLimits,
  nested,
  text,
} from "./field-rules.js";

// The limits of every field of every request of the node API (ipam.v1.Ipam) and the cluster
// API (ipam.v1.Cluster), checked by the service layer before a handler runs (see
// createUnaryService). docs/grpc.md lists them; a test keeps the two in step.

/** The request limits of each method of a service, by method local name (`allocate`). */
export type ServiceLimits<M extends GenServiceMethods> = {
  readonly [K in keyof M]: M[K] extends { input: infer I extends DescMessage }
    ? MessageLimits<I>
    : never;
};

type MethodsOf<S> = S extends GenService<infer M extends GenServiceMethods> ? M : never;

const NAME_CHARS = "a letter or digit, then letters, digits, '_', '.', '-'";

/** CNI network name (CNI spec: `name`). */
export const networkName = text({
  maxLength: 255,
  pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]*$/,
  patternText: `${NAME_CHARS} (CNI network name)`,
});

/** CNI container id (CNI spec: `CNI_CONTAINERID`). */
export const containerId = text({
  maxLength: 255,
  pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]*$/,
  patternText: `${NAME_CHARS} (CNI container id)`,
});

/**
 * Interface name inside the container (CNI spec: `CNI_IFNAME`, Linux `dev_valid_name`):
 * IFNAMSIZ - 1 = 15 bytes, not `.` or `..`, no `/`, `:`, whitespace or control character.
 */
export const interfaceName = text({
  maxBytes: 15,
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
  pattern: /^[^/:\s\u0000-\u001f\u007f]+$/u,
  patternText: "not '.' or '..', no '/', ':', whitespace or control characters (Linux IFNAMSIZ)",
  refine: (value) => (value === "." || value === ".." ? "is not an interface name" : undefined),
});

/** Purpose names, as the topology format allows them. */
export const purposeName = text({
  maxLength: 63,
  pattern: /^[A-Za-z0-9][A-Za-z0-9._-]*$/,
  patternText: NAME_CHARS,
});

/** Topology ids (zones, pods, TORs, nodes) and Raft member ids, as the topology format allows. */
export const topologyId = text({
  maxLength: 253,
  pattern: /^[A-Za-z0-9][A-Za-z0-9._:-]*$/,
  patternText: "a letter or digit, then letters, digits, '.', '_', ':', '-'",
});

/** Printable ASCII without spaces: subnet ids (they default to the CIDR), tokens, addresses. */
const printable = (maxLength: number): FieldRule<string> =>
  text({ maxLength, pattern: /^[\x21-\x7e]+$/, patternText: "printable ASCII, no spaces" });

/** Subnet ids: up to 253 printable characters (the default id is the subnet's CIDR). */
export const subnetId = printable(253);

/** An IP address in text form, no prefix (the longest IPv6 text form is 45 characters). */
export const ipAddress = text({
  maxLength: 45,
  pattern: /^[0-9A-Fa-f:.]+$/,
  patternText: "hex digits, ':' and '.' (an IP address)",
});

/** A CIDR in text form (`fd99::/64`). */
export const cidrText = text({
  maxLength: 49,
  pattern: /^[0-9A-Fa-f:.]+\/[0-9]{1,3}$/,
  patternText: "address/prefix (a CIDR)",
});

/** Kubernetes namespace: an RFC 1123 DNS label. */
export const podNamespace = text({
  maxLength: 63,
  pattern: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/,
  patternText: "lower-case letters, digits and '-', alphanumeric at both ends (RFC 1123 label)",
});

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Kubernetes pod name: an RFC 1123 DNS subdomain. */
export const podName = text({
  maxLength: 253,
  pattern: DNS_SUBDOMAIN,
  patternText: "lower-case RFC 1123 subdomain (labels of letters, digits, '-' joined by '.')",
});

/** Kubernetes object UID (`K8S_POD_UID`): a UUID in practice; letters, digits and '-'. */
export const podUid = text({
  maxLength: 128,
  pattern: /^[A-Za-z0-9-]+$/,
  patternText: "letters, digits and '-' (a Kubernetes UID)",
});

const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

/** Kubernetes label key: `[prefix/]name`, prefix a DNS subdomain (≤ 253), name ≤ 63. */
export const labelKey = text({
  maxLength: 253 + 1 + 63,
  patternText:
    "[prefix/]name: prefix an RFC 1123 subdomain of at most 253, name at most 63 alphanumerics, '-', '_', '.' (Kubernetes label key)",
  refine: (value) => {
    const slash = value.indexOf("/");
    const prefix = slash === -1 ? undefined : value.slice(0, slash);
    const name = slash === -1 ? value : value.slice(slash + 1);
    if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
      return "has a prefix that is not an RFC 1123 subdomain";
    }
    if (name.length > 63 || !LABEL_NAME.test(name)) return "is not a label name";
    return undefined;
  },
});

/** Kubernetes label value: empty, or ≤ 63 alphanumerics, '-', '_', '.', alphanumeric at both ends. */
export const labelValue = text({
  maxLength: 63,
  pattern: LABEL_NAME,
  patternText: "alphanumerics, '-', '_', '.', alphanumeric at both ends (Kubernetes label value)",
});

const family = enumValue(FamilySchema);
const flag = anyValue<boolean>("true or false");
const pageSize = atMost(10_000);
const pageToken = printable(512);

/** Most addresses a node API call may name (Allocate `requested_addresses`, Check `addresses`). */
export const MAX_ADDRESSES_PER_CALL = 16;
/** Most valid attachments a GarbageCollect may keep. */
export const MAX_VALID_ATTACHMENTS = 16_384;
/** Most items of an AllocateDirect or keys of a ReleaseDirect. */
export const MAX_DIRECT_BATCH = 10_000;
/** Most labels a node may carry. */
export const MAX_NODE_LABELS = 256;
/** Most blocks one ReportNode may describe. */
export const MAX_REPORTED_BLOCKS = 16_384;
/** Most addresses one block of a ReportNode may list (the agent sends at most these). */
export const MAX_REPORTED_ADDRESSES = 65_536;
/** Most events one ReportAddressEvents may carry (the agent sends at most these). */
export const MAX_REPORTED_EVENTS = 2048;
/** Largest topology document (ApplyTopology `topology_json`), bytes. */
export const MAX_TOPOLOGY_BYTES = 4 * 1024 * 1024;

const allocationKey = messageLimits(AllocationKeySchema, {
  network: networkName,
  containerId,
  ifname: interfaceName,
});

/** Limits of every `ipam.v1.Ipam` request, by method. */
export const IPAM_REQUEST_LIMITS: ServiceLimits<MethodsOf<typeof Ipam>> = {
  allocate: messageLimits(AllocateRequestSchema, {
    network: networkName,
    containerId,
    ifname: interfaceName,
    purpose: purposeName,
    families: enumValue(FamilySelectionSchema),
    podNamespace,
    podName,
    requestedAddresses: list(MAX_ADDRESSES_PER_CALL, ipAddress),
    podUid,
  }),
  release: messageLimits(ReleaseRequestSchema, {
    network: networkName,
    containerId,
    ifname: interfaceName,
  }),
  check: messageLimits(CheckRequestSchema, {
    network: networkName,
    containerId,
    ifname: interfaceName,
    addresses: list(MAX_ADDRESSES_PER_CALL, ipAddress),
  }),
  garbageCollect: messageLimits(GarbageCollectRequestSchema, {
    network: networkName,
    validAttachments: list(
      MAX_VALID_ATTACHMENTS,
      nested(messageLimits(AttachmentSchema, { containerId, ifname: interfaceName })),
    ),
  }),
  status: messageLimits(StatusRequestSchema, {
    network: networkName,
    purpose: purposeName,
    families: enumValue(FamilySelectionSchema),
  }),
  listAllocations: messageLimits(ListAllocationsRequestSchema, {
    network: networkName,
    purpose: purposeName,
    pageSize,
    pageToken,
  }),
  getNodeBlocks: messageLimits(GetNodeBlocksRequestSchema, {
    subnetId,
    purpose: purposeName,
  }),
  getPoolStats: messageLimits(GetPoolStatsRequestSchema, { purpose: purposeName, family }),
  getRuntimeView: messageLimits(GetRuntimeViewRequestSchema, { network: networkName }),
};

/** A reserved range: an address, a CIDR or `first-last`. */
const reservedRange = text({
  maxLength: 91,
  pattern: /^[0-9A-Fa-f:./-]+$/,
  patternText: "a CIDR or an address range 'first-last'",
});

const subnet = messageLimits(SubnetSchema, {
  id: subnetId,
  cidr: cidrText,
  purpose: purposeName,
  scope: topologyId,
  gateway: text({
    maxLength: 45,
    pattern: /^(none|[0-9A-Fa-f:.]+)$/,
    patternText: "an IP address or 'none'",
  }),
  reserved: list(1024, reservedRange),
  blockPrefix: atMost(128),
  cooldownSeconds: atMost(30 * 86_400, "seconds"),
  priority: anyValue<number>("any int32"),
  family: enumValue(FamilySchema),
  draining: flag,
  removing: flag,
  origin: text({ maxLength: 4, pattern: /^(file|api)?$/, patternText: "'file', 'api' or empty" }),
});

/** One block of a node report: at most one address per address of a (large) block. */
const blockReport = messageLimits(BlockReportSchema, {
  cidr: cidrText,
  state: text({
    maxLength: 8,
    pattern: /^(leased|draining|revoked|lost)$/,
    patternText: "leased, draining, revoked or lost",
  }),
  held: anyValue<number>("any uint32"),
  cooling: anyValue<number>("any uint32"),
  addresses: list(MAX_REPORTED_ADDRESSES, ipAddress),
});

const unixMs = anyValue<bigint>("any int64 (Unix ms)");
const journalId = text({
  maxLength: 64,
  pattern: /^[0-9A-Za-z-]+$/,
  patternText: "letters, digits and '-'",
});

/** One event of the address history, as an agent ships it. */
const addressEvent = messageLimits(AddressEventSchema, {
  nodeId: topologyId,
  journalId,
  seq: anyValue<bigint>("any uint64"),
  atUnixMs: unixMs,
  event: text({
    maxLength: 8,
    pattern: /^(allocate|release)$/,
    patternText: "allocate or release",
  }),
  address: ipAddress,
  family: enumValue(FamilySchema),
  network: networkName,
  containerId,
  ifname: interfaceName,
  purpose: purposeName,
  subnetId,
  podNamespace,
  podName,
  podUid,
});

const memberChange = {
  id: topologyId,
  address: printable(300),
};

/** Limits of every `ipam.v1.Cluster` request, by method. */
export const CLUSTER_REQUEST_LIMITS: ServiceLimits<MethodsOf<typeof Cluster>> = {
  applyTopology: messageLimits(ApplyTopologyRequestSchema, {
    topologyJson: text({ maxBytes: MAX_TOPOLOGY_BYTES }),
    dryRun: flag,
    expectedVersion: anyValue<bigint>("any uint64"),
  }),
  getTopology: messageLimits(GetTopologyRequestSchema, { allowStale: flag }),
  registerNode: messageLimits(RegisterNodeRequestSchema, {
    nodeId: topologyId,
    torId: topologyId,
    labels: entries(MAX_NODE_LABELS, labelKey, labelValue),
  }),
  deregisterNode: messageLimits(DeregisterNodeRequestSchema, {
    nodeId: topologyId,
    force: flag,
    dead: flag,
  }),
  addSubnet: messageLimits(AddSubnetRequestSchema, {
    subnet: nested(subnet),
  }),
  removeSubnet: messageLimits(RemoveSubnetRequestSchema, { subnetId, force: flag }),
  drainSubnet: messageLimits(DrainSubnetRequestSchema, { subnetId, drain: flag }),
  leaseBlock: messageLimits(LeaseBlockRequestSchema, {
    nodeId: topologyId,
    purpose: purposeName,
    family,
    subnetId,
    requestId: printable(128),
    address: ipAddress,
  }),
  releaseBlock: messageLimits(ReleaseBlockRequestSchema, { nodeId: topologyId, cidr: cidrText }),
  claimBlock: messageLimits(ClaimBlockRequestSchema, { nodeId: topologyId, cidr: cidrText }),
  carveSubnet: messageLimits(CarveSubnetRequestSchema, {
    torId: topologyId,
    purpose: purposeName,
    family,
    prefixLength: atMost(128),
    mode: text({
      maxBytes: 6,
      pattern: /^(block|direct)$/,
      patternText: 'empty, "block" or "direct"',
    }),
    requestId: printable(128),
  }),
  bindSticky: messageLimits(BindStickyRequestSchema, {
    namespace: podNamespace,
    statefulSet: podName,
    ordinal: atMost(999_999_999),
    purpose: purposeName,
    addresses: list(2, ipAddress),
    nodeId: topologyId,
    podUid,
  }),
  releaseSticky: messageLimits(ReleaseStickyRequestSchema, {
    namespace: podNamespace,
    statefulSet: podName,
    ordinal: atMost(999_999_999),
    podUid,
    nodeId: topologyId,
  }),
  getStickyBinding: messageLimits(GetStickyBindingRequestSchema, {
    namespace: podNamespace,
    statefulSet: podName,
    ordinal: atMost(999_999_999),
  }),
  allocateDirect: messageLimits(AllocateDirectRequestSchema, {
    items: list(
      MAX_DIRECT_BATCH,
      nested(
        messageLimits(DirectAllocateItemSchema, {
          network: networkName,
          containerId,
          ifname: interfaceName,
          nodeId: topologyId,
          purpose: purposeName,
          family,
          requestedAddress: ipAddress,
        }),
      ),
    ),
  }),
  releaseDirect: messageLimits(ReleaseDirectRequestSchema, {
    keys: list(MAX_DIRECT_BATCH, nested(allocationKey)),
  }),
  getStats: messageLimits(GetStatsRequestSchema, {
    level: enumValue(StatsLevelSchema),
    id: printable(253),
    purpose: purposeName,
    family,
    allowStale: flag,
  }),
  addVoter: messageLimits(AddVoterRequestSchema, memberChange),
  addLearner: messageLimits(AddLearnerRequestSchema, memberChange),
  removeMember: messageLimits(RemoveMemberRequestSchema, { id: topologyId }),
  transferLeadership: messageLimits(TransferLeadershipRequestSchema, { targetId: topologyId }),
  getLeader: messageLimits(GetLeaderRequestSchema, {}),
  getStatus: messageLimits(GetStatusRequestSchema, {}),
  listBlocks: messageLimits(ListBlocksRequestSchema, {
    nodeId: topologyId,
    subnetId,
    pageSize,
    pageToken,
    allowStale: flag,
  }),
  getNodeLeases: messageLimits(GetNodeLeasesRequestSchema, { nodeId: topologyId }),
  reportNode: messageLimits(ReportNodeRequestSchema, {
    nodeId: topologyId,
    agentVersion: printable(64),
    blocks: list(MAX_REPORTED_BLOCKS, nested(blockReport)),
  }),
  reserveRange: messageLimits(ReserveRangeRequestSchema, {
    subnetId,
    range: reservedRange,
    // Free text for operators: spaces allowed, no control characters.
    reason: text({ maxBytes: 512, pattern: /^[^\p{Cc}]*$/u, patternText: "no control characters" }),
  }),
  unreserveRange: messageLimits(UnreserveRangeRequestSchema, { subnetId, range: reservedRange }),
  reportAddressEvents: messageLimits(ReportAddressEventsRequestSchema, {
    nodeId: topologyId,
    journalId,
    events: list(MAX_REPORTED_EVENTS, nested(addressEvent)),
  }),
  addressHistory: messageLimits(AddressHistoryRequestSchema, {
    address: ipAddress,
    sinceUnixMs: unixMs,
    untilUnixMs: unixMs,
    atUnixMs: unixMs,
  }),
  listReservations: messageLimits(ListReservationsRequestSchema, {
    subnetId,
    allowStale: flag,
  }),
  takeSnapshot: messageLimits(TakeSnapshotRequestSchema, {}),
  forecast: messageLimits(ForecastRequestSchema, {
    windowMs: anyValue<bigint>("any int64 (ms)"),
    zone: topologyId,
    tor: topologyId,
    purpose: purposeName,
    family: enumValue(FamilySchema),
  }),
};
