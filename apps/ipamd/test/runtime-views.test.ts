// The runtime's last CNI GC view per network, kept in the agent's SQLite store: what `ipamctl
// check` compares records with. Real store files (fsync), reopened as after a restart.
import { join } from "node:path";
import { openStore } from "@ipam/store";
import { describe, expect, it } from "vitest";
import { RUNTIME_VIEWS_META, RuntimeViews } from "../src/agent/runtime-views.js";
import { tempDir } from "./helpers/processes.js";

describe("RuntimeViews", () => {
  it("keeps the last view per network across a restart, replacing only that network's", () => {
    const path = join(tempDir("runtime-views"), "ipamd.db");
    const first = openStore({ path });
    const views = new RuntimeViews(first);
    expect(views.list()).toEqual([]);
    views.record({
      network: "net",
      receivedAt: 1000,
      validAttachments: [{ containerId: "a", ifname: "eth0" }],
    });
    views.record({ network: "blue", receivedAt: 1500, validAttachments: [] });
    views.record({
      network: "net",
      receivedAt: 2000,
      validAttachments: [{ containerId: "b", ifname: "eth1" }],
    });
    first.close();

    const again = new RuntimeViews(openStore({ path }));
    expect(again.list()).toEqual([
      { network: "blue", receivedAt: 1500, validAttachments: [] },
      {
        network: "net",
        receivedAt: 2000,
        validAttachments: [{ containerId: "b", ifname: "eth1" }],
      },
    ]);
    expect(again.list("blue").map((v) => v.network)).toEqual(["blue"]);
    expect(again.list("never-gc")).toEqual([]);
  });

  it("refuses a damaged entry instead of answering with no view", () => {
    const store = openStore({ path: ":memory:" });
    store.setMeta(RUNTIME_VIEWS_META, JSON.stringify([{ network: "net" }]));
    expect(() => new RuntimeViews(store).list()).toThrow(RUNTIME_VIEWS_META);
    store.close();
  });
});
