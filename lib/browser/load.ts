// Loading a model into the page (issue 33): whether this browser can (WebAssembly), the manifest, every file with
// byte-level progress (the sizes are known before the download starts), and onnxruntime-web's wasm build with one
// thread (no SharedArrayBuffer, so the site needs no cross-origin isolation). The files carry content-hashed names
// and immutable cache headers, and each is also kept in the page's Cache Storage under its hashed URL: the HTTP cache
// may drop multi-megabyte entries (it did in headless Chromium), Cache Storage keeps them until the site's storage
// is cleared, so a second visit downloads nothing. A hashed name never changes content, so a hit needs no check.
import type { FileBytes, OrtPackage, PageModel } from "./generate";
import { openPageModel } from "./generate";
import type { BrowserFile, BrowserManifest } from "./manifest";

/** Why this browser cannot run a model itself, or null when it can. */
export function browserSupport(): string | null {
  if (typeof WebAssembly !== "object" || typeof WebAssembly.instantiate !== "function")
    return "this browser has no WebAssembly, which running the model here needs";
  return null;
}

export interface LoadProgress {
  loaded: number;
  total: number;
  /** Of `loaded`, the bytes read from this browser's Cache Storage rather than downloaded. */
  cached: number;
}

/** The Cache Storage bucket of model files (one per origin). */
const CACHE = "tessera-model-files";

/** The bucket, or null where the page has none (an insecure origin, or storage refused). */
async function fileCache(): Promise<Cache | null> {
  try {
    return typeof caches === "object" ? await caches.open(CACHE) : null;
  } catch {
    return null;
  }
}

/**
 * Drops cached files no longer named by this manifest (an older model version's): one model's files stay, the
 * runtime among them. NOTE: a visitor switching between two models downloads each again.
 */
async function pruneCache(cache: Cache, keep: readonly string[]): Promise<void> {
  const wanted = new Set(keep.map((u) => new URL(u, location.href).href));
  for (const req of await cache.keys()) if (!wanted.has(req.url)) await cache.delete(req);
}

async function cachedBytes(cache: Cache | null, file: BrowserFile, onBytes: (n: number, cached: boolean) => void) {
  const { url, bytes: expected } = file;
  const hit = await cache?.match(url).catch(() => undefined);
  if (hit) {
    const bytes = new Uint8Array(await hit.arrayBuffer());
    if (bytes.byteLength === expected) {
      onBytes(expected, true);
      return bytes;
    }
    await cache!.delete(url); // a truncated entry: download it afresh
  }
  const bytes = await fetchBytes(file, (n) => onBytes(n, false));
  // Stored inflated, under the plain file's name. Best effort: a full quota only means the next visit downloads again.
  await cache?.put(url, new Response(bytes.slice().buffer, { headers: { "Content-Type": "application/octet-stream" } })).catch(() => {});
  return bytes;
}

/**
 * Downloads a file's gzipped twin and inflates it as it arrives where the browser can (DecompressionStream: every
 * current engine), else the plain file; `onBytes` counts inflated bytes, so progress is against the manifest's sizes.
 */
async function fetchBytes(file: BrowserFile, onBytes: (n: number) => void): Promise<Uint8Array> {
  const { url, bytes: expected } = file;
  const inflate = typeof DecompressionStream === "function";
  const res = await fetch(inflate ? file.gzipUrl : url);
  if (!res.ok || !res.body) throw new Error(`could not download ${url} (HTTP ${res.status})`);
  const body = inflate ? res.body.pipeThrough(new DecompressionStream("gzip")) : res.body;
  const out = new Uint8Array(expected);
  const reader = body.getReader();
  let at = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (at + value.byteLength > expected) throw new Error(`${url} is larger than the ${expected} bytes its manifest says`);
    out.set(value, at);
    at += value.byteLength;
    onBytes(value.byteLength);
  }
  if (at !== expected) throw new Error(`${url}: ${at} bytes downloaded, ${expected} expected`);
  return out;
}

export async function fetchManifest(model: string): Promise<BrowserManifest> {
  const res = await fetch(`/api/models/${encodeURIComponent(model)}/browser`);
  const body = await res.json();
  if (!res.ok) throw new Error(body?.error?.message ?? `the model's browser files are not available (HTTP ${res.status})`);
  return body as BrowserManifest;
}

const loaded = new Map<string, Promise<PageModel>>();

/** The model with these files, loaded once per page (a second run reuses its sessions). */
export function loadPageModel(manifest: BrowserManifest, onProgress?: (p: LoadProgress) => void): Promise<PageModel> {
  const key = manifest.files.map((f) => f.url).join(" ");
  let hit = loaded.get(key);
  if (!hit) {
    hit = load(manifest, onProgress);
    hit.catch(() => loaded.delete(key));
    loaded.set(key, hit);
  }
  return hit;
}

async function load(manifest: BrowserManifest, onProgress?: (p: LoadProgress) => void): Promise<PageModel> {
  let done = 0;
  let cached = 0;
  const total = manifest.totalBytes;
  const tick = (n: number, fromCache: boolean) => {
    done += n;
    if (fromCache) cached += n;
    onProgress?.({ loaded: done, total, cached });
  };
  onProgress?.({ loaded: 0, total, cached });
  const cache = await fileCache();
  const runtime = manifest.files.find((f) => f.role === "runtime");
  if (!runtime) throw new Error("the manifest names no ONNX Runtime binary");
  const [ort, ...bytes] = await Promise.all([
    (async () => {
      const ort = await import("onnxruntime-web/wasm");
      // One thread: threads need SharedArrayBuffer, i.e. cross-origin isolation of the page (COOP + COEP).
      ort.env.wasm.numThreads = 1;
      ort.env.wasm.proxy = false;
      // The wasm is fetched here (with progress) and handed over, so ORT never guesses a URL for it.
      ort.env.wasm.wasmBinary = await cachedBytes(cache, runtime, tick);
      return ort as unknown as OrtPackage;
    })(),
    ...manifest.files.filter((f) => f.role !== "runtime").map(async (f) => [f.role, await cachedBytes(cache, f, tick)] as const),
  ]);
  if (cache)
    await pruneCache(
      cache,
      manifest.files.map((f) => f.url),
    ).catch(() => {});
  const files = Object.fromEntries(bytes as (readonly [string, Uint8Array])[]) as FileBytes;
  return openPageModel(ort, manifest, files);
}
