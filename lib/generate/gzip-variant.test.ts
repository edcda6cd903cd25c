// The gzipped twins of the browser files: which names are twins, and that a twin inflates to its file's bytes.
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { browserFileResponse, gzipTwinOf, gzipped } from "./gzip-variant";

describe("gzip twins", () => {
  it("names the file a .gz name is the twin of, and nothing else", () => {
    expect(gzipTwinOf("prefill.0123456789abcdef.onnx.gz")).toBe("prefill.0123456789abcdef.onnx");
    expect(gzipTwinOf("prefill.0123456789abcdef.onnx")).toBeNull();
    expect(gzipTwinOf(".gz")).toBeNull();
  });

  it("serves a twin that inflates to the file's bytes, and the plain file as it is", async () => {
    // Like a graph's weights: float16 values widened to float32 (two zero bytes in four).
    const bytes = new Uint8Array(new Float32Array(Array.from({ length: 20_000 }, (_, i) => Math.sin(i))).buffer);
    bytes.forEach((_, i) => i % 4 < 2 && (bytes[i] = 0));
    const file = { bytes, contentType: "application/octet-stream" };
    const twin = await browserFileResponse(true, file, "immutable");
    expect(twin.headers.get("content-type")).toBe("application/gzip");
    const body = Buffer.from(await twin.arrayBuffer());
    expect(body.byteLength).toBeLessThan(bytes.byteLength * 0.7);
    expect(Buffer.compare(gunzipSync(body), Buffer.from(bytes))).toBe(0);
    expect(await gzipped(bytes)).toBe(await gzipped(bytes)); // compressed once
    const plain = await browserFileResponse(false, file, "immutable");
    expect(plain.headers.get("content-type")).toBe("application/octet-stream");
    expect(Buffer.compare(Buffer.from(await plain.arrayBuffer()), Buffer.from(bytes))).toBe(0);
  });
});
