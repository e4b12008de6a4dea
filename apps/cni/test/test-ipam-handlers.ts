import { Family, GrpcError, type IpamHandlers, ReadyState } from "@ipam/grpc-server";

interface Held {
  readonly address: string;
  readonly prefixLength: number;
  readonly gateway: string;
  readonly family: Family;
}

/**
 * A small in-memory node API for tests: IPv4 from 10.99.0.0/24 (gateway .1), IPv6 from fd99::/64
 * (gateway fd99::1), lowest free host first, idempotent per key, POOL_EXHAUSTED after `v4Hosts`.
 */
export function createTestIpamHandlers(v4Hosts = 200): Partial<IpamHandlers> & { size(): number } {
  const records = new Map<
    string,
    { network: string; containerId: string; ifname: string; held: Held[] }
  >();
  const used = new Set<number>();
  const keyOf = (n: string, c: string, i: string) => `${n}\u0000${c}\u0000${i}`;
  return {
    size: () => records.size,
    allocate(req) {
      if (req.network === "" || req.containerId === "" || req.ifname === "") {
        throw new GrpcError("INVALID_ARGUMENT", "network, containerId and ifname are required");
      }
      const key = keyOf(req.network, req.containerId, req.ifname);
      let rec = records.get(key);
      if (rec === undefined) {
        let host = 2;
        while (used.has(host)) host++;
        if (host >= 2 + v4Hosts)
          throw new GrpcError("POOL_EXHAUSTED", "no free address in 10.99.0.0/24");
        used.add(host);
        const held: Held[] = [];
        if (req.families !== 2)
          held.push({
            address: `10.99.0.${host}`,
            prefixLength: 24,
            gateway: "10.99.0.1",
            family: Family.IPV4,
          });
        if (req.families === 2 || req.families === 3) {
          held.push({
            address: `fd99::${host.toString(16)}`,
            prefixLength: 64,
            gateway: "fd99::1",
            family: Family.IPV6,
          });
        }
        rec = { network: req.network, containerId: req.containerId, ifname: req.ifname, held };
        records.set(key, rec);
      }
      return { addresses: rec.held, routes: [] };
    },
    release(req) {
      const key = keyOf(req.network, req.containerId, req.ifname);
      const rec = records.get(key);
      if (rec === undefined) return { released: false };
      records.delete(key);
      for (const h of rec.held)
        if (h.family === Family.IPV4) used.delete(Number(h.address.split(".")[3]));
      return { released: true, addresses: rec.held.map((h) => h.address) };
    },
    check(req) {
      const rec = records.get(keyOf(req.network, req.containerId, req.ifname));
      const held = rec?.held ?? [];
      const ok =
        held.length > 0 &&
        held.length === req.addresses.length &&
        held.every((h) => req.addresses.includes(h.address));
      return {
        ok,
        reason: ok ? "" : rec === undefined ? "no allocation for key" : "addresses differ",
        addresses: held,
      };
    },
    garbageCollect(req) {
      const released = [];
      for (const [key, rec] of [...records]) {
        if (rec.network !== req.network) continue;
        if (
          req.validAttachments.some(
            (v) => v.containerId === rec.containerId && v.ifname === rec.ifname,
          )
        )
          continue;
        records.delete(key);
        for (const h of rec.held)
          if (h.family === Family.IPV4) used.delete(Number(h.address.split(".")[3]));
        released.push({ network: rec.network, containerId: rec.containerId, ifname: rec.ifname });
      }
      return { released };
    },
    status() {
      return used.size >= v4Hosts
        ? { state: ReadyState.EXHAUSTED, reason: "10.99.0.0/24 is full" }
        : { state: ReadyState.READY, reason: "", nodeId: "test-node" };
    },
  };
}
