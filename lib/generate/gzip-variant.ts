// The gzipped twin of every file a page downloads to generate by itself (issue 33): onnxruntime-web's wasm shrinks
// to 26 % under gzip and the ONNX graphs to ~58 % (their weights are float16 values widened to float32, whose low
// bytes are zero), so a visitor transfers ~12 MB instead of ~29. It is a file of its own (`<name>.gz`, application/
// gzip) that the page inflates with DecompressionStream, not a Content-Encoding: Next.js drops a route handler's
// Content-Encoding header and sends the compressed body as if it were plain (seen with curl on `next start`), and
// a file of our own passes any proxy unchanged. Each is compressed once, on first request, off the event loop
// (zlib's async calls run on libuv's thread pool), and kept for as long as the server keeps the file's bytes.
import { promisify } from "node:util";
import zlib from "node:zlib";

export const GZIP_SUFFIX = ".gz";

const gzip = promisify(zlib.gzip);

/** The file a `.gz` name is the twin of, or null for any other name. */
export function gzipTwinOf(name: string): string | null {
  return name.endsWith(GZIP_SUFFIX) && name.length > GZIP_SUFFIX.length ? name.slice(0, -GZIP_SUFFIX.length) : null;
}

// Keyed by the bytes themselves: a twin lives exactly as long as its file's bytes are held.
const twins = new WeakMap<Uint8Array, Promise<Uint8Array>>();

/** `bytes` gzipped (level 6: ~1 s for the 14 MB wasm on one core), computed once. */
export function gzipped(bytes: Uint8Array): Promise<Uint8Array> {
  let hit = twins.get(bytes);
  if (!hit) {
    hit = gzip(bytes, { level: 6 }).then((out) => new Uint8Array(out));
    twins.set(bytes, hit);
    hit.catch(() => twins.delete(bytes)); // a failure is not remembered
  }
  return hit;
}

/** A 200 with a browser file, or its gzipped twin when `name` asked for one; immutable either way. */
export async function browserFileResponse(
  twin: boolean,
  file: { bytes: Uint8Array; contentType: string },
  cacheControl: string,
): Promise<Response> {
  const body = twin ? await gzipped(file.bytes) : file.bytes;
  return new Response(new Uint8Array(body), {
    headers: { "Content-Type": twin ? "application/gzip" : file.contentType, "Cache-Control": cacheControl },
  });
}
