// The server entry's same-origin check on form posts (server actions): an origin is scheme, host and port.
import { describe, expect, it } from "vitest";
import { checkRequest, type RequestHead } from "./guard";

const form = { "content-type": "multipart/form-data; boundary=----x", "content-length": "100" };
const post = (proto: RequestHead["proto"], host: string, origin: string | undefined, extra: Record<string, string> = {}) =>
  checkRequest({ method: "POST", url: "/admin", headers: { host, ...form, ...(origin === undefined ? {} : { origin }), ...extra }, proto });

describe("form posts: same origin only", () => {
  it("accepts the site's own origin, written any way a browser may write it", () => {
    expect(post("http", "t.test:3000", "http://t.test:3000")).toBeNull();
    expect(post("https", "t.test", "https://t.test")).toBeNull();
    expect(post("http", "t.test", "http://t.test:80")).toBeNull();
    expect(post("https", "t.test:443", "https://t.test")).toBeNull();
    expect(post("http", "T.Test:3000", "http://t.test:3000")).toBeNull();
    expect(post("http", "[::1]:3000", "http://[::1]:3000")).toBeNull();
    // No Origin (an old browser, curl): left to Next's own check.
    expect(post("http", "t.test:3000", undefined)).toBeNull();
  });

  it("refuses another scheme on the same host and port, another port, another host, and garbage", () => {
    // The scheme counts: a page on http://host:port is not the https site of the same host and port, and back.
    expect(post("http", "t.test:3000", "https://t.test:3000")?.status).toBe(403);
    expect(post("https", "t.test:3000", "http://t.test:3000")?.status).toBe(403);
    expect(post("https", "t.test", "http://t.test")?.status).toBe(403);
    expect(post("http", "t.test:3000", "http://t.test:3001")?.status).toBe(403);
    expect(post("http", "t.test", "http://t.test:8080")?.status).toBe(403);
    expect(post("http", "t.test:3000", "http://evil.example:3000")?.status).toBe(403);
    expect(post("http", "t.test:3000", "http://t.test.evil.example:3000")?.status).toBe(403);
    for (const bad of ["null", "", "t.test:3000", "ftp://t.test:3000", "file:///etc/passwd"])
      expect(post("http", "t.test:3000", bad)?.status).toBe(403);
    expect(checkRequest({ method: "POST", url: "/admin", headers: { ...form, origin: "http://t.test" }, proto: "http" })?.status).toBe(403);
  });

  it("compares with the host a proxy forwards, on the scheme the server entry was given", () => {
    expect(post("https", "127.0.0.1:3001", "https://tessera.example", { "x-forwarded-host": "tessera.example" })).toBeNull();
    expect(post("http", "127.0.0.1:3001", "https://tessera.example", { "x-forwarded-host": "tessera.example" })?.status).toBe(403);
  });
});

describe("form-typed posts to the API: same origin only", () => {
  const api = (origin: string | undefined, type = form["content-type"]) =>
    checkRequest({
      method: "POST",
      url: "/api/generations",
      headers: { host: "t.test:3000", "content-type": type, ...(origin === undefined ? {} : { origin }) },
      proto: "http",
    });

  it("refuses an upload (multipart) from another site, and text/plain or urlencoded ones too", () => {
    expect(api("http://evil.example")?.status).toBe(403);
    expect(api("https://t.test:3000")?.status).toBe(403);
    expect(api("http://evil.example", "text/plain")?.status).toBe(403);
    expect(api("http://evil.example", "application/x-www-form-urlencoded")?.status).toBe(403);
  });

  it("lets the site's own page and clients without an Origin (curl) through, and never looks at JSON", () => {
    expect(api("http://t.test:3000")).toBeNull();
    expect(api(undefined)).toBeNull();
    // JSON: no form can send it, and the route answers a wrong type with 415 itself.
    expect(api("http://evil.example", "application/json")).toBeNull();
  });
});
