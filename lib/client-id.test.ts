// Who a client is: the socket's address unless a trusted proxy reports it; a client cannot pick its own id.
import { describe, expect, it } from "vitest";
import { CLIENT_HEADER, PROTO_HEADER, clientAddress, clientIdForAddress, clientIdFrom, requestIsHttps } from "./client-id";

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

  it("marks cookies Secure only for requests that arrived over HTTPS", () => {
    expect(requestIsHttps(new Headers({ [PROTO_HEADER]: "https" }))).toBe(true);
    expect(requestIsHttps(new Headers({ [PROTO_HEADER]: "http" }))).toBe(false);
    expect(requestIsHttps(new Headers({ "x-forwarded-proto": "https" }))).toBe(false);
  });
});
