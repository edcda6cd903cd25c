// The browser files' Content-Encoding: which coding an Accept-Encoding header gets, that the body decodes to the same
// bytes, and that bytes which do not shrink are sent as they are.
import zlib from "node:zlib";
import { describe, expect, it } from "vitest";
import { mulberry32 } from "../data/rng";
import { encodedResponse, pickEncoding } from "./encoded-response";

describe("pickEncoding", () => {
  it("prefers br, then gzip, honours q=0 and *, and sends none to a client that asks for none", () => {
    expect(pickEncoding("gzip, deflate, br, zstd")).toBe("br");
    expect(pickEncoding("gzip, deflate")).toBe("gzip");
    expect(pickEncoding("br;q=0, gzip;q=0.5")).toBe("gzip");
    expect(pickEncoding("BR;Q=0.8")).toBe("br");
    expect(pickEncoding("*")).toBe("br");
    expect(pickEncoding("*;q=0, gzip")).toBe("gzip");
    expect(pickEncoding("identity")).toBeNull();
    expect(pickEncoding("br;q=0, gzip;q=0")).toBeNull();
    expect(pickEncoding("")).toBeNull();
    expect(pickEncoding(null)).toBeNull();
  });
});

const request = (accept?: string) => new Request("http://t/f", { headers: accept ? { "Accept-Encoding": accept } : {} });
const headers = { "Content-Type": "application/octet-stream", "Cache-Control": "immutable" };

describe("encodedResponse", () => {
  // Like a graph's weights: float32s whose low bytes are zero compress; pure noise does not.
  const compressible = new Uint8Array(new Float32Array(Array.from({ length: 50_000 }, (_, i) => Math.fround(Math.sin(i) * 0.01))).buffer);
  compressible.forEach((_, i) => i % 4 < 2 && (compressible[i] = 0));
  const r = mulberry32(5);
  const noise = Uint8Array.from({ length: 50_000 }, () => Math.floor(r() * 256));

  it("sends brotli or gzip that decodes to the same bytes, with Vary and the given headers", async () => {
    for (const [accept, decode] of [
      ["gzip, br", zlib.brotliDecompressSync],
      ["gzip", zlib.gunzipSync],
    ] as const) {
      const res = await encodedResponse(request(accept), compressible, headers);
      expect(res.headers.get("content-encoding")).toBe(accept === "gzip" ? "gzip" : "br");
      expect(res.headers.get("vary")).toBe("Accept-Encoding");
      expect(res.headers.get("cache-control")).toBe("immutable");
      const body = new Uint8Array(await res.arrayBuffer());
      expect(body.byteLength).toBeLessThan(compressible.byteLength * 0.8);
      expect(Buffer.compare(decode(body), Buffer.from(compressible))).toBe(0);
    }
  });

  it("sends the plain bytes to a client without an accepted coding, and bytes that do not shrink as they are", async () => {
    for (const [accept, bytes] of [
      [undefined, compressible],
      ["identity", compressible],
      ["br", noise],
    ] as const) {
      const res = await encodedResponse(request(accept), bytes, headers);
      expect(res.headers.get("content-encoding")).toBeNull();
      expect(res.headers.get("vary")).toBe("Accept-Encoding");
      expect(Buffer.compare(Buffer.from(await res.arrayBuffer()), Buffer.from(bytes))).toBe(0);
    }
  });
});
