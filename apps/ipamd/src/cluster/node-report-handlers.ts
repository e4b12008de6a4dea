import type { ClusterHandlers } from "@ipam/grpc-server";
import { IpamdError } from "../ipamd-error.js";
import { requireText } from "../request-fields.js";
import type { NodeReports } from "./node-reports.js";

const STATES: ReadonlySet<string> = new Set(["leased", "draining", "revoked", "lost"]);

/**
 * ReportNode: keeps the node's report in this server's memory (soft state, see
 * node-reports.ts). Never forwarded: agents send their report to every server.
 */
export function nodeReportHandlers(
  reports: NodeReports,
  now: () => number,
): Partial<ClusterHandlers> {
  return {
    reportNode: async (req) => {
      const node = requireText("node_id", req.nodeId);
      const blocks = req.blocks.map((b, i) => {
        requireText(`blocks[${i}].cidr`, b.cidr);
        if (!STATES.has(b.state)) {
          throw new IpamdError(
            "INVALID_ARGUMENT",
            `blocks[${i}].state: must be leased, draining, revoked or lost, not "${b.state}"`,
          );
        }
        return {
          cidr: b.cidr,
          state: b.state,
          held: b.held,
          cooling: b.cooling,
          addresses: [...b.addresses],
        };
      });
      reports.put({ node, agentVersion: req.agentVersion, reportedAt: now(), blocks });
      return {};
    },
  };
}
