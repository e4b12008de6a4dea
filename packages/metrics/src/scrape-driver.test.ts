import { describe, expect, it, vi } from "vitest";
import { createScrapeDriver } from "./scrape-driver.js";

function harness() {
  const state = { value: undefined as number | undefined, errors: [] as unknown[] };
  const driver = createScrapeDriver<number>({
    clear: () => {
      state.value = undefined;
    },
    write: (v) => {
      state.value = v;
    },
    onError: (e) => state.errors.push(e),
  });
  return { state, driver };
}

describe("createScrapeDriver", () => {
  it("shares one read between refreshes started before it settles", async () => {
    const { state, driver } = harness();
    let release: (v: number) => void = () => {};
    const source = vi.fn(() =>
      source.mock.calls.length === 1
        ? new Promise<number>((resolve) => {
            release = resolve;
          })
        : 8,
    );
    driver.setSource(source);
    const a = driver.refresh();
    const b = driver.refresh();
    release(7);
    await Promise.all([a, b]);
    expect(source).toHaveBeenCalledTimes(1);
    expect(state.value).toBe(7);
    await driver.refresh();
    expect(source).toHaveBeenCalledTimes(2);
    expect(state.value).toBe(8);
  });

  it("accepts a thenable that is not a native promise", async () => {
    const { state, driver } = harness();
    const thenable: PromiseLike<number> = {
      // biome-ignore lint/suspicious/noThenProperty: the point of the test is a foreign thenable
      then: (onFulfilled) => Promise.resolve(onFulfilled?.(4)) as never,
    };
    driver.setSource(() => thenable as unknown as Promise<number>);
    await driver.refresh();
    expect(state.value).toBe(4);
    expect(state.errors).toEqual([]);
  });

  it("writes a synchronous source's value before refresh returns", () => {
    const { state, driver } = harness();
    driver.setSource(() => 3);
    void driver.refresh();
    expect(state.value).toBe(3);
  });

  it("reads again on the next scrape after a source that threw synchronously", async () => {
    const { state, driver } = harness();
    let fail = true;
    driver.setSource(() => {
      if (fail) throw new Error("boom");
      return 5;
    });
    await driver.refresh();
    expect(state.errors).toHaveLength(1);
    expect(state.value).toBeUndefined();
    fail = false;
    await driver.refresh();
    expect(state.value).toBe(5);
  });

  it("clears the values when the source rejects, returns undefined or is removed", async () => {
    const { state, driver } = harness();
    driver.setSource(() => 1);
    await driver.refresh();
    driver.setSource(() => Promise.reject(new Error("down")));
    await driver.refresh();
    expect(state.value).toBeUndefined();
    expect(state.errors).toHaveLength(1);
    driver.setSource(() => 2);
    await driver.refresh();
    driver.setSource(() => undefined);
    await driver.refresh();
    expect(state.value).toBeUndefined();
    driver.setSource(() => 2);
    await driver.refresh();
    driver.setSource(undefined);
    expect(state.value).toBeUndefined();
    await driver.refresh();
    expect(state.value).toBeUndefined();
  });

  it("treats a write that throws like a failing source", async () => {
    const errors: unknown[] = [];
    const cleared = vi.fn();
    const driver = createScrapeDriver<number>({
      clear: cleared,
      write: () => {
        throw new Error("bad row");
      },
      onError: (e) => errors.push(e),
    });
    driver.setSource(() => 1);
    await expect(driver.refresh()).resolves.toBeUndefined();
    expect(errors).toHaveLength(1);
    expect(cleared).toHaveBeenCalledTimes(2);
  });
});
