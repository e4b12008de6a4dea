import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseCidr, parseIp } from "./ip.js";

// WHATWG URL parsing canonicalises IPv6 hosts to RFC 5952 text: the model for parseIp.
const canonical = (text: string): string => new URL(`http://[${text}]/`).hostname.slice(1, -1);

describe("parseIp", () => {
  it("canonicalises any IPv6 address like the URL parser does", () => {
    const hextets = fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), {
      minLength: 8,
      maxLength: 8,
    });
    fc.assert(
      fc.property(hextets, (h) => {
        const full = h.map((x) => x.toString(16)).join(":");
        const parsed = parseIp(full);
        expect(parsed).toEqual({ family: "ipv6", address: canonical(full) });
        expect(parseIp(parsed?.address ?? "")).toEqual(parsed);
      }),
    );
  });

  it("accepts IPv4, compressed and IPv4-embedded IPv6; rejects junk", () => {
    expect(parseIp("10.99.0.5")).toEqual({ family: "ipv4", address: "10.99.0.5" });
    expect(parseIp("FD99:0:0::0:5")?.address).toBe("fd99::5");
    expect(parseIp("::ffff:10.1.2.3")?.address).toBe(canonical("::ffff:10.1.2.3"));
    expect(parseIp("::")?.address).toBe("::");
    for (const bad of [
      "",
      "10.99.0.256",
      "01.2.3.4",
      "1:2:3:4:5:6:7:8:9",
      "1::2::3",
      ":1",
      "fd99::5%eth0",
      "x",
    ]) {
      expect(parseIp(bad)).toBeUndefined();
    }
  });

  it("parses CIDRs within the family's width", () => {
    expect(parseCidr("10.99.0.5/24")).toEqual({
      family: "ipv4",
      address: "10.99.0.5",
      prefixLength: 24,
    });
    expect(parseCidr("fd99::/48")?.prefixLength).toBe(48);
    expect(parseCidr("10.0.0.0/33")).toBeUndefined();
    expect(parseCidr("fd99::/129")).toBeUndefined();
    expect(parseCidr("10.0.0.0")).toBeUndefined();
  });
});
