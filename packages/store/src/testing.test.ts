import { describe, expect, it } from "vitest";
import { recordFor } from "../test/helpers/records.js";
import { openMemoryStore } from "./testing.js";

describe("openMemoryStore", () => {
  it("is a complete store that keeps nothing after close", async () => {
    const store = openMemoryStore({ maxBatchSize: 8 });
    await store.saveAllocation(recordFor(1));
    expect(store.schemaVersion).toBeGreaterThan(0);
    expect(store.countAllocations()).toBe(1);
    store.close();
    expect(openMemoryStore().countAllocations()).toBe(0);
  });
});
