// Content-Encoding for the files a page downloads to generate by itself (issue 33): onnxruntime-web's wasm shrinks
// to ~20 % under brotli and the ONNX graphs to ~55 % (their weights are float16-rounded float32s, whose low bytes
// are mostly zero), so a visitor transfers ~11 MB instead of ~29. Each file is compressed once, on first request,
// off the event loop (zlib's async calls run on libuv's thread pool), and kept beside its bytes for as long as the
// server keeps them. The browser's fetch undoes the encoding, so the page sees the same bytes (and byte counts).
import { promisify } from "node:util";
import zlib from "node:zlib";

export type Encoding = "br" | "gzip";

const brotli = promisify(zlib.brotliCompress);
const gzip = promisify(zlib.gzip);

/**
 * The encoding to answer an Accept-Encoding header with: br, else gzip, where the client accepts it (RFC 9110
 * §12.5.3: a listed coding with q = 0 is refused, `*` stands for any coding not listed); else none.
 */
export function pickEncoding(accept: string | null): Encoding | null {
  if (!accept) return null;
  const q = new Map<string, number>();
  for (const part of accept.split(",")) {
    const [coding, ...params] = part.split(";").map((s) => s.trim().toLowerCase());
    if (!coding) continue;
    const given = params.find((p) => p.startsWith("q="));
    const value = given === undefined ? 1 : Number(given.slice(2));
    q.set(coding, Number.isFinite(value) ? value : 0);
  }
  const accepts = (coding: Encoding) => (q.get(coding) ?? q.get("*") ?? 0) > 0;
  return accepts("br") ? "br" : accepts("gzip") ? "gzip" : null;
}

/** A compressed copy is kept only when it saves at least this share of the bytes (else the plain bytes are sent). */
const MIN_SAVING = 0.05;

// Keyed by the bytes themselves: a file's compressed copies live exactly as long as its bytes are held.
const encoded = new WeakMap<Uint8Array, Map<Encoding, Promise<Uint8Array | null>>>();

/** `bytes` compressed with `encoding` (brotli quality 5: ~2 s for the 14 MB wasm), or null when that saves too little. */
export function compressed(bytes: Uint8Array, encoding: Encoding): Promise<Uint8Array | null> {
  let byEncoding = encoded.get(bytes);
  if (!byEncoding) encoded.set(bytes, (byEncoding = new Map()));
  let hit = byEncoding.get(encoding);
  if (!hit) {
    const run =
      encoding === "br"
        ? brotli(bytes, {
            params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: bytes.byteLength },
          })
        : gzip(bytes, { level: 6 });
    hit = run.then((out) => (out.byteLength <= bytes.byteLength * (1 - MIN_SAVING) ? new Uint8Array(out) : null));
    byEncoding.set(encoding, hit);
  }
  return hit;
}

/** A 200 with `bytes`, compressed as the request accepts where that helps; `Vary: Accept-Encoding` either way. */
export async function encodedResponse(request: Request, bytes: Uint8Array, headers: Record<string, string>): Promise<Response> {
  const encoding = pickEncoding(request.headers.get("accept-encoding"));
  const body = encoding ? await compressed(bytes, encoding) : null;
  const common = { ...headers, Vary: "Accept-Encoding" };
  if (body && encoding) return new Response(new Uint8Array(body), { headers: { ...common, "Content-Encoding": encoding } });
  return new Response(new Uint8Array(bytes), { headers: common });
}
