// Who is asking, for the per-client queue cap and the login throttle. The server entry (scripts/server.ts) is the
// only place that knows the peer's address: it overwrites the x-tessera-client header with a hash of that address
// (so a client cannot choose its own id, and the database never stores addresses). Behind a reverse proxy every
// peer is the proxy, so with TRUST_PROXY=1 the address is the last hop the proxy appended to X-Forwarded-For.
// An IPv6 client is its /64: one subscriber is routinely given a whole /64 and can use any address in it, so
// counting single IPv6 addresses would let one machine be 2^64 clients.
import { createHash } from "node:crypto";
import net from "node:net";

export const CLIENT_HEADER = "x-tessera-client";
/** "https" when the request reached us (or, with TRUST_PROXY=1, the proxy) over TLS: cookies are Secure then. */
export const PROTO_HEADER = "x-tessera-proto";

/** The eight 16-bit groups of an IPv6 address (a trailing dotted IPv4 part counts as two). */
function hextets(ipv6: string): number[] {
  const parts = (half: string) => {
    if (!half) return [];
    const groups = half.split(":");
    const last = groups[groups.length - 1];
    if (!last.includes(".")) return groups.map((g) => parseInt(g, 16));
    const [a, b, c, d] = last.split(".").map(Number);
    return [...groups.slice(0, -1).map((g) => parseInt(g, 16)), (a << 8) | b, (c << 8) | d];
  };
  const [head, tail] = ipv6.split("::");
  if (tail === undefined) return parts(head);
  const [h, t] = [parts(head), parts(tail)];
  return [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t];
}

/**
 * What counts as one client: an IPv4 address as it is; an IPv6 address by its /64 (written "2001:db8:0:1::/64");
 * an IPv4-mapped IPv6 address (::ffff:192.0.2.1, how a dual-stack socket reports IPv4 peers) as its IPv4 address.
 * Anything else (not an address) as it is.
 */
export function clientGroup(address: string): string {
  const a = address
    .trim()
    .replace(/^\[(.*)\]$/, "$1")
    .replace(/%.*$/, "");
  if (!net.isIPv6(a)) return a;
  const h = hextets(a.toLowerCase());
  if (h.slice(0, 5).every((x) => x === 0) && h[5] === 0xffff) return [h[6] >> 8, h[6] & 255, h[7] >> 8, h[7] & 255].join(".");
  return `${h
    .slice(0, 4)
    .map((x) => x.toString(16))
    .join(":")}::/64`;
}

/** The hashed id the server entry computes from an address: one per client group (an IPv6 /64, see clientGroup). */
export function clientIdForAddress(address: string): string {
  return createHash("sha256")
    .update(`tessera-client:${clientGroup(address)}`)
    .digest("hex")
    .slice(0, 24);
}

/** The address to identify a request by: the socket peer, or behind a trusted proxy the hop it appended. */
export function clientAddress(socketAddress: string | undefined, forwardedFor: string | string[] | undefined, trustProxy: boolean): string {
  if (trustProxy && forwardedFor) {
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(",") : forwardedFor)
      .split(",")
      .map((h) => h.trim())
      .filter(Boolean);
    if (hops.length) return hops[hops.length - 1];
  }
  return socketAddress ?? "unknown";
}

/** The id of the client behind a request's headers ("local" when no server entry set one, as in unit tests). */
export function clientIdFrom(headers: Headers): string {
  const id = headers.get(CLIENT_HEADER);
  return id && /^[0-9a-f]{24}$/.test(id) ? id : "local";
}

export function requestIsHttps(headers: Headers): boolean {
  return headers.get(PROTO_HEADER) === "https";
}
