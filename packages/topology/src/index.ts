// Public API of @ipam/topology: every export is named explicitly (no `export *`).

export { toCanonicalConfig, toCanonicalJson } from "./canonical.js";
export type {
  FlatNodeConfig,
  PodConfig,
  PurposeConfig,
  SubnetConfig,
  SupernetConfig,
  TopologyConfig,
  TorConfig,
  TorNodeConfig,
  ZoneConfig,
} from "./config-schema.js";
export { topologyConfigSchema, topologyJsonSchema } from "./config-schema.js";
export { createTopology, validateTopologyConfig } from "./create-topology.js";
export type { KindDiff, NamedPurposePolicy, TopologyDiff } from "./diff.js";
export { diff } from "./diff.js";
export type { TopologyErrorCode, TopologyIssue } from "./errors.js";
export { TopologyError } from "./errors.js";
export { exampleTopology, exampleTopologyYaml } from "./example.js";
export type {
  Family,
  Gateway,
  Labels,
  Node,
  Pod,
  PurposePolicy,
  ScopeKind,
  ScopeRef,
  Subnet,
  Supernet,
  Topology,
  TopologyCounts,
  Tor,
  Zone,
} from "./model.js";
export { hostPrefix, isDirectMode, WELL_KNOWN_PURPOSES } from "./model.js";
export type { NodeInput, PodInput, SubnetInput, TorInput, ZoneInput } from "./operations.js";
export {
  addPod,
  addSubnet,
  addTor,
  addZone,
  carryOverNodes,
  registerNode,
  registerNodes,
  removeNode,
  removeSubnet,
} from "./operations.js";
export type { TopologyFormat } from "./parse.js";
export { parseTopology } from "./parse.js";
export type { NodePath, ScopedSupernetRef, SubnetsForNodeOptions } from "./queries.js";
export {
  countTopology,
  getNode,
  nodePath,
  nodesUnder,
  purposeStrategy,
  subnetsAt,
  subnetsForNode,
  supernetsForTor,
  torOfNode,
} from "./queries.js";
export type { AddressInterval } from "./reserved.js";
export { reservedIntervals } from "./reserved.js";
export type { AllocationStrategy, SubnetStrategy } from "./strategy.js";
export {
  DEFAULT_STRATEGY,
  isStrategyName,
  resolveStrategy,
  STRATEGY_NAMES,
  strategyReaches,
} from "./strategy.js";
export { DEFAULT_SUPERNET_THRESHOLD } from "./supernets.js";
export { emptyTopology } from "./topology.js";
