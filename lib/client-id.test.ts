// Who a client is: the socket's address unless a trusted proxy reports it; a client cannot pick its own id.
import { describe, expect, it } from "vitest";
import { CLIENT_HEADER, PROTO_HEADER, clientAddress, clientGroup, clientIdForAddress, clientIdFrom, requestIsHttps } from "./client-id";

describe("client id", () => {
  it("ignores X-Forwarded-For unless the proxy is trusted, then takes the hop the proxy appended", () => {
    expect(clientAddress("10.0.0.5", "1.2.3.4", false)).toBe("10.0.0.5");
    expect(clientAddress("10.0.0.5", "6.6.6.6, 1.2.3.4", true)).toBe("1.2.3.4");
    expect(clientAddress("10.0.0.5", ["6.6.6.6", "1.2.3.4"], true)).toBe("1.2.3.4");
    expect(clientAddress("10.0.0.5", undefined, true)).toBe("10.0.0.5");
  });

  it("is a hash of the address, and a forged header that is not one is ignored", () => {
    const id = clientIdForAddress("10.0.0.5");
    expect(id).toMatch(/^[0-9a-f]{24}$/);
    expect(id).not.toContain("10.0.0.5");
    expect(clientIdFrom(new Headers({ [CLIENT_HEADER]: id }))).toBe(id);
    expect(clientIdFrom(new Headers({ [CLIENT_HEADER]: "me-please" }))).toBe("local");
    expect(clientIdFrom(new Headers())).toBe("local");
  });

  it("counts an IPv6 client by its /64, however the address is written, and an IPv4-mapped one by its IPv4", () => {
    expect(clientGroup("2001:db8:1:2:aaaa:bbbb:cccc:dddd")).toBe("2001:db8:1:2::/64");
    expect(clientGroup("2001:0DB8:0001:0002::1")).toBe("2001:db8:1:2::/64");
    expect(clientGroup("[2001:db8:1:2::5]")).toBe("2001:db8:1:2::/64");
    expect(clientGroup("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
    expect(clientGroup("::ffff:192.0.2.7")).toBe("192.0.2.7");
    expect(clientGroup("::ffff:c000:207")).toBe("192.0.2.7");
    expect(clientGroup("2001:db8::1.2.3.4")).toBe("2001:db8:0:0::/64");
    expect(clientGroup("192.0.2.7")).toBe("192.0.2.7");
    expect(clientGroup("unknown")).toBe("unknown");
    // One id for the whole /64 (the queue caps, the login throttle), another for the next /64 and for each IPv4.
    const id = clientIdForAddress("2001:db8:1:2::1");
    expect(clientIdForAddress("2001:db8:1:2:ffff:ffff:ffff:fffe")).toBe(id);
    expect(clientIdForAddress("2001:db8:1:3::1")).not.toBe(id);
    expect(clientIdForAddress("::ffff:10.0.0.5")).toBe(clientIdForAddress("10.0.0.5"));
    expect(clientIdForAddress("10.0.0.6")).not.toBe(clientIdForAddress("10.0.0.5"));
  });

  it("marks cookies Secure only for requests that arrived over HTTPS", () => {
    expect(requestIsHttps(new Headers({ [PROTO_HEADER]: "https" }))).toBe(true);
    expect(requestIsHttps(new Headers({ [PROTO_HEADER]: "http" }))).toBe(false);
    expect(requestIsHttps(new Headers({ "x-forwarded-proto": "https" }))).toBe(false);
  });
});
