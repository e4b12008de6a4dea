import type { AllocateInput, AttachmentKey, BackendAddress, IpamBackend } from "../src/backend.js";
import { CniError, type CniErrorCode } from "../src/cni-error.js";

/** An in-memory IpamBackend: 10.99.0.0/24 and fd99::/64, lowest free first, idempotent per key. */
export function createFakeBackend(
  options: { failWith?: CniErrorCode; state?: "ready" | "exhausted" | "unavailable" } = {},
) {
  const records = new Map<string, BackendAddress[]>();
  let next = 2;
  const keyOf = (k: AttachmentKey) => `${k.network}/${k.containerId}/${k.ifname}`;
  const fail = () => {
    if (options.failWith !== undefined)
      throw new CniError(options.failWith, `fake ${options.failWith}`);
  };
  const backend: IpamBackend & { records: typeof records; calls: string[] } = {
    records,
    calls: [],
    async allocate(input: AllocateInput) {
      backend.calls.push("allocate");
      fail();
      const key = keyOf(input);
      let held = records.get(key);
      if (held === undefined) {
        const host = next++;
        held = input.families.map((family) => {
          const wanted = input.requestedAddresses.find(
            (a) => a.includes(":") === (family === "ipv6"),
          );
          return family === "ipv4"
            ? {
                family,
                address: wanted ?? `10.99.0.${host}`,
                prefixLength: 24,
                gateway: "10.99.0.1",
              }
            : {
                family,
                address: wanted ?? `fd99::${host.toString(16)}`,
                prefixLength: 64,
                gateway: "fd99::1",
              };
        });
        records.set(key, held);
      }
      return {
        addresses: held,
        routes: [{ dst: "0.0.0.0/0" }],
        dns: { nameservers: ["10.99.0.53"], search: [], options: [] },
      };
    },
    async release(key) {
      backend.calls.push("release");
      fail();
      return { released: records.delete(keyOf(key)) };
    },
    async check(key, addresses) {
      backend.calls.push("check");
      fail();
      const held = records.get(keyOf(key)) ?? [];
      const ok =
        held.length === addresses.length && held.every((a) => addresses.includes(a.address));
      return { ok, reason: ok ? "" : "addresses differ", held };
    },
    async gc(network, valid) {
      backend.calls.push("gc");
      fail();
      const released: AttachmentKey[] = [];
      for (const key of [...records.keys()]) {
        const [net, containerId, ifname] = key.split("/") as [string, string, string];
        if (net !== network) continue;
        if (valid.some((v) => v.containerId === containerId && v.ifname === ifname)) continue;
        records.delete(key);
        released.push({ network: net, containerId, ifname });
      }
      return { released };
    },
    async status() {
      backend.calls.push("status");
      fail();
      const state = options.state ?? "ready";
      return { state, reason: state === "ready" ? "" : `fake ${state}` };
    },
    close() {},
  };
  return backend;
}
