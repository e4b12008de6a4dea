import { describe, expect, it } from "vitest";
import { DEFAULT_CONFLIST, validateConflist } from "./conflist.js";

const list = (plugins: unknown[], extra: object = {}) =>
  JSON.stringify({ cniVersion: "1.0.0", name: "pods", plugins, ...extra });
const bridge = (ipam: object) => ({ type: "bridge", ipam: { type: "ipamd-cni", ...ipam } });

describe("validateConflist", () => {
  it("accepts the built-in list and names the plugin that delegates to ipamd-cni", () => {
    const valid = validateConflist(JSON.stringify(DEFAULT_CONFLIST));
    expect(valid.name).toBe("ipamd");
    expect(valid.ipamdPlugins).toEqual([0]);
    expect(JSON.parse(valid.text)).toEqual(DEFAULT_CONFLIST);
    expect(valid.text.endsWith("}\n")).toBe(true);
  });

  it.each([
    ["{", /^not JSON/],
    ["[]", /^\(document\): must be a JSON object/],
    [JSON.stringify({ name: "x", plugins: [] }), /^cniVersion: required/],
    [list([bridge({})], { name: "-x" }), /^name: "-x" is not a network name/],
    [list([]), /^plugins: must be a non-empty list/],
    [list([{ ipam: { type: "ipamd-cni" } }]), /^plugins\[0\]\.type: required/],
    [
      list([{ type: "bridge", ipam: { type: "host-local" } }]),
      /^plugins\[\*\]\.ipam\.type: no plugin delegates IPAM to ipamd-cni/,
    ],
    [
      list([{ type: "portmap" }, bridge({ families: ["ipv5"] })]),
      /^plugins\[1\]\.ipam\.families\[0\]: "ipv5"/,
    ],
    [list([bridge({ famlies: ["ipv4"] })]), /^plugins\[0\]\.ipam\.famlies: unsupported field/],
    [
      list([bridge({ socketPath: "run/x.sock" })]),
      /^plugins\[0\]\.ipam\.socketPath: "run\/x\.sock" is not an absolute path/,
    ],
    [list([bridge({})], { cniVersion: "9.9.9" }), /9\.9\.9/],
  ])("refuses %s naming the field", (text, message) => {
    expect(() => validateConflist(text)).toThrow(message);
  });
});
