// Public API of @ipam/raft/testing: fakes and the deterministic simulator (name every export).

export { MemoryStorage } from "../storage/memory-storage.js";
export type {
  MemoryNetworkOptions,
  MemoryNetworkStats,
} from "../transport/memory-transport.js";
export { MemoryNetwork, MemoryTransport } from "../transport/memory-transport.js";
export type { HistoryRead, HistoryWrite } from "./kv-history.js";
export { checkKvHistory } from "./kv-history.js";
export type { KvPut } from "./kv-state-machine.js";
export { decodeKvPut, encodeKvPut, KvStateMachine } from "./kv-state-machine.js";
export { MemoryLog } from "./memory-log.js";
export { SafetyChecker } from "./safety-checker.js";
export { SimDisk } from "./sim-disk.js";
export type { FaultKind, SimulationOptions, SimulationResult } from "./simulator.js";
export {
  FAULT_KINDS,
  RECOVERY_ELECTION_TIMEOUTS,
  RECOVERY_ELECTION_TIMEOUTS_UNPROTECTED,
  replayCommand,
  runSimulation,
  Simulation,
  shrinkFailure,
} from "./simulator.js";
