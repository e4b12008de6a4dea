/** An IP address family as the ipam config names it. */
export type IpFamily = "ipv4" | "ipv6";

/** A parsed address: its family and canonical text (dotted quad, or RFC 5952 for IPv6). */
export interface ParsedIp {
  readonly family: IpFamily;
  readonly address: string;
}

/** A parsed `address/prefix`: the canonical address plus the prefix length. */
export interface ParsedCidr extends ParsedIp {
  readonly prefixLength: number;
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const HEXTET = /^[0-9a-fA-F]{1,4}$/;

function parseV4(text: string): number[] | undefined {
  const parts = text.split(".");
  if (parts.length !== 4 || parts.some((p) => !OCTET.test(p))) return undefined;
  return parts.map(Number);
}

function parseV6(text: string): number[] | undefined {
  if (text.length === 0 || text.length > 45) return undefined;
  let tail: number[] = [];
  let body = text;
  const lastColon = text.lastIndexOf(":");
  if (lastColon >= 0 && text.indexOf(".", lastColon) > lastColon) {
    const v4 = parseV4(text.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tail = [((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0)];
    body = text.slice(0, lastColon + 1);
    if (!body.endsWith("::")) body = body.slice(0, -1);
  }
  const halves = body.split("::");
  if (halves.length > 2) return undefined;
  const group = (s: string): number[] | undefined => {
    if (s === "") return [];
    const parts = s.split(":");
    if (parts.some((p) => !HEXTET.test(p))) return undefined;
    return parts.map((p) => Number.parseInt(p, 16));
  };
  const head = group(halves[0] ?? "");
  if (head === undefined) return undefined;
  const want = 8 - tail.length;
  if (halves.length === 1) {
    return head.length === want ? [...head, ...tail] : undefined;
  }
  const rest = group(halves[1] ?? "");
  if (rest === undefined || head.length + rest.length >= want) return undefined;
  return [
    ...head,
    ...new Array<number>(want - head.length - rest.length).fill(0),
    ...rest,
    ...tail,
  ];
}

/** RFC 5952 text of eight hextets: lowercase, longest run (>= 2) of zeros compressed, first wins. */
function formatV6(hextets: readonly number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (hextets[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && hextets[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = hextets.map((h) => h.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

/** Parse an IPv4 or IPv6 address (no prefix, no zone); undefined when it is not one. */
export function parseIp(text: string): ParsedIp | undefined {
  const v4 = parseV4(text);
  if (v4 !== undefined) return { family: "ipv4", address: v4.join(".") };
  const v6 = parseV6(text);
  if (v6 !== undefined) return { family: "ipv6", address: formatV6(v6) };
  return undefined;
}

/** Parse `address/prefix` (the prefix within the family's width); undefined when invalid. */
export function parseCidr(text: string): ParsedCidr | undefined {
  const slash = text.indexOf("/");
  if (slash < 0) return undefined;
  const ip = parseIp(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (ip === undefined || !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefixLength = Number(prefixText);
  if (prefixLength > (ip.family === "ipv4" ? 32 : 128)) return undefined;
  return { ...ip, prefixLength };
}
