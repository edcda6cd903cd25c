// The browser-generation routes (issue 33) against a real SQLite database and a real tiny model: the manifest and
// its hashed, immutable files; a post of codes stored as a generation made in the browser, decoded by the server to
// the very PNGs a server job with those codes gets; and posts with an out-of-range code or a tampered setting
// refused with a 400 that stores nothing.
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serviceSandbox, stopService } from "@/test/fixtures/service";
import { CLIENT_HEADER, clientIdForAddress } from "@/lib/client-id";
import { getDb } from "@/lib/db/client";
import { runtimeWasm } from "@/lib/generate/browser-files";
import { generationService } from "@/lib/generate/service";
import { selectBackend } from "@/lib/tensor/backend";
import { writeTinyModelFolder } from "@/test/fixtures/tiny-model";
import type { BrowserManifest } from "@/lib/browser/manifest";
import { GET as getRuntime } from "./browser-runtime/[file]/route";
import { POST as postBrowser } from "./generations/browser/route";
import { GET as getGeneration } from "./generations/[id]/route";
import { GET as getManifest } from "./models/[id]/browser/route";
import { GET as getFile } from "./models/[id]/browser/[file]/route";

let dir: string;
let manifest: BrowserManifest;
const CODEBOOK = 16;
const post = (body: unknown, address = "10.0.0.9") =>
  postBrowser(
    new Request("http://t/api/generations/browser", {
      method: "POST",
      body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", [CLIENT_HEADER]: clientIdForAddress(address) },
    }),
  );
const count = () => getDb().generation.count();

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  dir = await serviceSandbox("tessera-browser-api-");
  await writeTinyModelFolder(path.join(dir, "model"), CODEBOOK);
  const res = await getManifest(new Request("http://t"), { params: Promise.resolve({ id: "active" }) });
  expect(res.status).toBe(200);
  manifest = await res.json();
});
afterAll(async () => {
  await stopService(dir);
});

/** A valid post for the tiny model: n grids of in-range codes. */
function validPost(n = 2) {
  const cells = manifest.config.imageGrid ** 2;
  return {
    request: { prompt: "red heart", n, guidance: 1.5, temperature: 0.7, topK: 0, seed: 9 },
    codes: Array.from({ length: n }, (_, i) => Array.from({ length: cells }, (_, j) => (i * 7 + j) % CODEBOOK)),
  };
}

describe("browser files", () => {
  it("lists every file with a hashed name and size, and serves each as immutable", async () => {
    expect(manifest.reranked).toBe(false);
    expect(manifest.files.map((f) => f.role).sort()).toEqual([
      "decoder",
      "prefill",
      "runtime",
      "step",
      "tokenizer",
      "tokenizerConfig",
      "vocab",
    ]);
    expect(manifest.totalBytes).toBe(manifest.files.reduce((s, f) => s + f.bytes, 0));
    for (const f of manifest.files) {
      expect(f.url).toMatch(/\.[0-9a-f]{16}\.(onnx|json|wasm)$/);
      const name = f.url.slice(f.url.lastIndexOf("/") + 1);
      const res =
        f.role === "runtime"
          ? await getRuntime(new Request("http://t"), { params: Promise.resolve({ file: name }) })
          : await getFile(new Request("http://t"), { params: Promise.resolve({ id: manifest.model.id, file: name }) });
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toContain("immutable");
      expect((await res.arrayBuffer()).byteLength).toBe(f.bytes);
    }
    // Each file's gzipped twin (lib/generate/gzip-variant.ts), which the page inflates: the same bytes, smaller.
    for (const f of manifest.files.filter((x) => x.role === "runtime" || x.role === "tokenizer")) {
      expect(f.gzipUrl).toBe(`${f.url}.gz`);
      const name = f.gzipUrl.slice(f.gzipUrl.lastIndexOf("/") + 1);
      const res =
        f.role === "runtime"
          ? await getRuntime(new Request("http://t"), { params: Promise.resolve({ file: name }) })
          : await getFile(new Request("http://t"), { params: Promise.resolve({ id: manifest.model.id, file: name }) });
      expect(res.headers.get("content-type")).toBe("application/gzip");
      expect(res.headers.get("cache-control")).toContain("immutable");
      const body = Buffer.from(await res.arrayBuffer());
      expect(body.byteLength).toBeLessThan(f.bytes * 0.5);
      const plain = f.role === "runtime" ? runtimeWasm().file.bytes : null;
      const inflated = gunzipSync(body);
      expect(inflated.byteLength).toBe(f.bytes);
      if (plain) expect(Buffer.compare(inflated, Buffer.from(plain))).toBe(0);
    }
    const wrong = await getFile(new Request("http://t"), {
      params: Promise.resolve({ id: manifest.model.id, file: "prefill.0000000000000000.onnx" }),
    });
    expect(wrong.status).toBe(404);
  });
});

describe("POST /api/generations/browser", () => {
  it("stores the codes as a generation made in the browser, decoded by the server", async () => {
    const before = await count();
    const res = await post(validPost());
    expect(res.status).toBe(201);
    const { id, seed } = await res.json();
    expect(seed).toBe(9);
    expect(await count()).toBe(before + 1);
    const job = await (await getGeneration(new Request("http://t"), { params: Promise.resolve({ id }) })).json();
    expect(job).toMatchObject({ status: "done", prompt: "red heart", seed: 9, params: { madeIn: "browser", n: 2 } });
    expect(job.images).toHaveLength(2);
  });

  it("holds a browser post to the queue's per-client cap: 429 with Retry-After, nothing stored", async () => {
    const service = await generationService();
    const address = "10.0.0.77";
    // Jobs this client has running elsewhere (another server's worker, a lease far ahead): no worker here takes them.
    const held = await Promise.all(
      Array.from({ length: service.queueLimitPerClient }, () =>
        getDb().generation.create({
          data: {
            prompt: "held",
            params: {},
            seed: 1,
            clientId: clientIdForAddress(address),
            status: "running",
            workerId: "elsewhere:1:0.x",
            leaseUntil: new Date(Date.now() + 3_600_000),
            startedAt: new Date(),
          },
          select: { id: true },
        }),
      ),
    );
    try {
      const before = await count();
      const res = await post(validPost(), address);
      expect(res.status).toBe(429);
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect((await res.json()).error.message).toMatch(/QUEUE_LIMIT_PER_CLIENT/);
      expect(await count()).toBe(before);
    } finally {
      await getDb().generation.deleteMany({ where: { id: { in: held.map((h) => h.id) } } });
    }
  });

  it.each<[string, (b: ReturnType<typeof validPost>) => unknown, RegExp]>([
    ["a code past the codebook", (b) => ((b.codes[1][3] = CODEBOOK), b), /code grid 1 has code 16 at 3; this model's codes are 0–15/],
    ["a negative code", (b) => ((b.codes[0][0] = -1), b), /a code must be a whole number 0–65535/],
    ["a grid of the wrong size", (b) => (b.codes[0].pop(), b), /code grid 0 has \d+ codes/],
    ["more grids than n", (b) => ((b.request.n = 1), b), /codes holds 2 grids for n = 1/],
    ["a temperature out of range", (b) => ((b.request.temperature = 5), b), /temperature must be a number 0.1–2/],
    ["no seed", (b) => ({ ...b, request: { ...b.request, seed: undefined } }), /request.seed is required/],
    ["candidates (no reranking in a browser)", (b) => ({ ...b, request: { ...b.request, candidates: 4 } }), /not reranked/],
    ["pixels", (b) => ({ ...b, images: ["data:image/png;base64,AAAA"] }), /unknown field: images/],
    ["an unknown model", (b) => ({ ...b, request: { ...b.request, model: "nope" } }), /unknown model "nope"/],
  ])("refuses %s with a 400 and stores nothing", async (_, tamper, message) => {
    const before = await count();
    const res = await post(tamper(validPost()));
    expect(res.status).toBe(400);
    expect((await res.json()).error.message).toMatch(message);
    expect(await count()).toBe(before);
  });
});
