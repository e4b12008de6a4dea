import { exampleTopologyYaml } from "./example-yaml.js";
import type { Topology } from "./model.js";
import { parseTopology } from "./parse.js";

/**
 * The example topology, parsed: two zones (10.99.0.0/17 + fd99::/50 and 10.99.128.0/17 +
 * fd99:0:0:4000::/50), two pods each, two TORs per pod with `default`, `storage` and
 * `management` subnets in IPv4 and IPv6, a pod-level IPv4 `default` spill subnet, and two nodes
 * per TOR (`node-a1` ... `node-b8`). Every address is inside 10.99.0.0/16 and fd99::/48.
 * Parsed on each call (no work at import time); the value is immutable.
 */
export function exampleTopology(): Topology {
  return parseTopology(exampleTopologyYaml, "yaml");
}

export { exampleTopologyYaml };
