import { z } from "zod";

/**
 * The config file format (JSON or YAML, camelCase keys). This schema checks the document's
 * shape only; address rules (valid and canonical CIDRs, overlaps, ranges, gateways) are checked
 * afterwards by `createTopology`, which reports every remaining problem with its path.
 *
 * Unknown keys are rejected so that a misspelt field is an error rather than silently ignored.
 */

const idText = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, {
    message: "must start with a letter or digit and use only letters, digits, '.', '_', ':', '-'",
  });

const labelsSchema = z
  .record(z.string().min(1), z.string())
  .meta({ description: "Free-form string labels." });

const cidrList = z
  .array(z.string())
  .meta({ description: "CIDRs (IPv4 and/or IPv6) every subnet beneath must fall inside." });

const purposeName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, {
  message: "must start with a letter or digit and use only letters, digits, '.', '_', '-'",
});

const strategyName = z.enum(["tor", "pod", "zone", "spill"]).meta({
  description:
    "tor: only the node's TOR subnets; pod: TOR, then Pod; zone: TOR, Pod, then Zone. spill is the earlier name of zone.",
});

export const supernetConfigSchema = z
  .strictObject({
    cidr: z
      .string()
      .meta({ description: "The supernet, e.g. 10.99.64.0/18 or fd99:0:0:100::/56." }),
    purpose: purposeName
      .optional()
      .meta({ description: "Purpose of the subnets it feeds; defaults to default." }),
    prefix: z
      .union([z.int().min(0).max(128), z.string().regex(/^\/?[0-9]{1,3}$/)])
      .meta({ description: "Prefix length of each carved TOR subnet (24 or /24)." }),
    threshold: z.number().gt(0).max(1).optional().meta({
      description:
        "Fraction (0, 1] of a TOR's subnets of the purpose leased that makes the cluster carve the next subnet; default 0.8.",
    }),
    blockPrefix: z
      .union([z.int().min(0).max(128), z.string().regex(/^\/?[0-9]{1,3}$/)])
      .optional()
      .meta({
        description:
          "Block prefix of the carved subnets; defaults to /26 (v4) or /122 (v6); /32 (/128) carves direct-mode subnets.",
      }),
  })
  .meta({ title: "Supernet" });

const supernetList = z.array(supernetConfigSchema).meta({
  description: "Ranges held back to grow the subnets of the TORs beneath (docs/topology.md).",
});

export const purposeConfigSchema = z
  .strictObject({ strategy: strategyName.optional() })
  .meta({ title: "Purpose" });

export const subnetConfigSchema = z
  .strictObject({
    id: z
      .string()
      .min(1)
      .max(253)
      .optional()
      .meta({ description: "Unique subnet id; defaults to the canonical CIDR." }),
    cidr: z.string().meta({ description: "The subnet, e.g. 10.99.0.0/21 or fd99::/64." }),
    purpose: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, {
        message: "must start with a letter or digit and use only letters, digits, '.', '_', '-'",
      })
      .optional()
      .meta({
        description: "default, storage, management or a custom name; defaults to default.",
      }),
    gateway: z.string().optional().meta({
      description: 'Gateway address inside the subnet, or "none"; defaults to the first usable.',
    }),
    reserved: z.array(z.string()).optional().meta({
      description: 'Excluded addresses: CIDRs or inclusive "a-b" ranges inside the subnet.',
    }),
    blockPrefix: z
      .union([z.int().min(0).max(128), z.string().regex(/^\/?[0-9]{1,3}$/)])
      .optional()
      .meta({
        description:
          "Prefix of the blocks leased to nodes (26 or /26); 32/128 = direct mode. Defaults to /26 (v4) or /122 (v6).",
      }),
    priority: z
      .int()
      .optional()
      .meta({ description: "Lower is tried first within one scope level; default 100." }),
    cooldownSeconds: z
      .int()
      .min(0)
      .optional()
      .meta({ description: "Seconds a released address waits before reuse; default 30." }),
    strategy: strategyName.optional().meta({
      description:
        "Overrides the purpose's strategy for this subnet (a Pod/Zone subnet serves only nodes whose strategy reaches its level).",
    }),
  })
  .meta({ title: "Subnet" });

const nodeFields = {
  id: idText.optional().meta({ description: "Unique node id (the Kubernetes node name)." }),
  name: z.string().optional(),
  labels: labelsSchema.optional(),
};

export const torNodeConfigSchema = z.strictObject(nodeFields).meta({ title: "Node" });

export const flatNodeConfigSchema = z
  .strictObject({ ...nodeFields, tor: idText.meta({ description: "Id of the node's TOR." }) })
  .meta({ title: "NodeWithTor" });

export const torConfigSchema = z
  .strictObject({
    id: idText.optional(),
    name: z.string().optional(),
    location: z.string().optional().meta({ description: "Physical location (hall, row, rack)." }),
    labels: labelsSchema.optional(),
    subnets: z.array(subnetConfigSchema).optional(),
    nodes: z.array(torNodeConfigSchema).optional(),
  })
  .meta({ title: "Tor" });

export const podConfigSchema = z
  .strictObject({
    id: idText.optional(),
    name: z.string().optional(),
    labels: labelsSchema.optional(),
    subnetRanges: cidrList.optional(),
    supernets: supernetList.optional(),
    subnets: z.array(subnetConfigSchema).optional(),
    tors: z.array(torConfigSchema).optional(),
  })
  .meta({ title: "Pod" });

export const zoneConfigSchema = z
  .strictObject({
    id: idText.optional(),
    name: z.string().optional(),
    labels: labelsSchema.optional(),
    subnetRanges: cidrList.optional(),
    supernets: supernetList.optional(),
    subnets: z.array(subnetConfigSchema).optional(),
    pods: z.array(podConfigSchema).optional(),
  })
  .meta({ title: "Zone" });

/** Schema of a whole topology config document. */
export const topologyConfigSchema = z
  .strictObject({
    $schema: z.string().optional().meta({ description: "Editor hint; ignored." }),
    version: z.literal(1).optional().meta({ description: "Config format version (1)." }),
    purposes: z.record(purposeName, purposeConfigSchema).optional().meta({
      description: "Per purpose: the allocation strategy (default zone).",
    }),
    zones: z.array(zoneConfigSchema).default([]),
    nodes: z.array(flatNodeConfigSchema).optional().meta({
      description: "Nodes listed outside their TOR (each names its tor); merged with TOR nodes.",
    }),
  })
  .meta({
    title: "ipamd topology",
    description: "Zone → Pod → TOR → Node layout and the subnets attached to each level.",
  });

export type SubnetConfig = z.input<typeof subnetConfigSchema>;
export type SupernetConfig = z.input<typeof supernetConfigSchema>;
export type PurposeConfig = z.input<typeof purposeConfigSchema>;
export type TorNodeConfig = z.input<typeof torNodeConfigSchema>;
export type FlatNodeConfig = z.input<typeof flatNodeConfigSchema>;
export type TorConfig = z.input<typeof torConfigSchema>;
export type PodConfig = z.input<typeof podConfigSchema>;
export type ZoneConfig = z.input<typeof zoneConfigSchema>;
/** A topology config document as written by users (every optional field may be omitted). */
export type TopologyConfig = z.input<typeof topologyConfigSchema>;

/** JSON Schema (draft 2020-12) of the config format, generated from `topologyConfigSchema`. */
export function topologyJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(topologyConfigSchema, { io: "input", target: "draft-2020-12" }) as Record<
    string,
    unknown
  >;
}
