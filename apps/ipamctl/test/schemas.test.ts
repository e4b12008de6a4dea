// The schemas themselves: each compiles, and each rejects a document that breaks it (so the
// process tests' validation can fail).
import { describe, expect, it } from "vitest";
import { schemaErrors, schemasByKind } from "./helpers/schemas.js";

describe("docs/ipamctl/schemas", () => {
  it("has a schema for each kind ipamctl prints", () => {
    expect([...schemasByKind().keys()].sort()).toEqual(
      [
        "Address",
        "AddressHistory",
        "CheckReport",
        "Forecast",
        "Members",
        "NodeDrain",
        "NodeList",
        "NodeRemove",
        "Release",
        "RepairResult",
        "Reservation",
        "ReservationList",
        "ServerStatus",
        "Snapshot",
        "SubnetAdded",
        "SubnetCarve",
        "SubnetDrain",
        "SubnetList",
        "SubnetRemove",
        "Tree",
        "Unreservation",
      ].sort(),
    );
  });

  it("rejects a wrong apiVersion, an unknown field and a non-decimal count", () => {
    const members = { apiVersion: "ipamctl/v1", kind: "Members", leader: "s1", members: [] };
    expect(schemaErrors(members)).toBe("");
    expect(schemaErrors({ ...members, apiVersion: "ipamctl/v2" })).not.toBe("");
    expect(schemaErrors({ ...members, extra: 1 })).not.toBe("");
    const tree = {
      apiVersion: "ipamctl/v1",
      kind: "Tree",
      zones: [],
      total: { ipv4: { capacity: "10", leased: "2", held: null, cooling: null } },
      unreadNodes: [],
    };
    expect(schemaErrors(tree)).toBe("");
    expect(
      schemaErrors({
        ...tree,
        total: { ipv4: { capacity: 10, leased: "2", held: null, cooling: null } },
      }),
    ).not.toBe("");
  });
});
