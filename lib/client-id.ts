// Who is asking, for the per-client queue cap and the login throttle. The server entry (scripts/server.ts) is the
// only place that knows the peer's address: it overwrites the x-tessera-client header with a hash of that address
// (so a client cannot choose its own id, and the database never stores addresses). Behind a reverse proxy every
// peer is the proxy, so with TRUST_PROXY=1 the address is the last hop the proxy appended to X-Forwarded-For.
import { createHash } from "node:crypto";

export const CLIENT_HEADER = "x-tessera-client";
/** "https" when the request reached us (or, with TRUST_PROXY=1, the proxy) over TLS: cookies are Secure then. */
export const PROTO_HEADER = "x-tessera-proto";

/** The hashed id the server entry computes from an address. */
export function clientIdForAddress(address: string): string {
  return createHash("sha256").update(`tessera-client:${address}`).digest("hex").slice(0, 24);
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
