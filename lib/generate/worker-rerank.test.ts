// Reranking through the real job path: a tiny model folder with a tiny CLIP in clip/, a real SQLite database, the
// worker. The job samples its candidates, keeps the n CLIP scores highest, and stores every candidate with its
// score (the rejected ones flagged); a model without a CLIP samples n and says reranking was off.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeTinyClip } from "../../test/fixtures/tiny-clip";
import { writeTinyModelFolder } from "../../test/fixtures/tiny-model";
import { createDb, type Db } from "../db/client";
import { getGeneration } from "../db/generations";
import { embeddingOf } from "../db/images";
import { listImageEmbeddings } from "../db/semantic-search";
import { migrate } from "../db/migrate";
import { Clip } from "../model/clip";
import { selectBackend } from "../tensor/backend";
import { loadTextTokenizer } from "../text/tokenizer";
import { generateImages } from "./generate";
import { moreLikeThis, searchByMeaning } from "./semantic";
import { loadModelBundle } from "./model-bundle";
import { CANDIDATES_FALLBACK, GenerationParams, SAMPLING_FALLBACK, withCandidates, withSamplingDefaults } from "./params";
import { enqueue } from "./queue";
import { ensureDefaultVersion, ModelRegistry } from "./registry";
import { GenerationWorker, type JobEvent } from "./worker";

let dir: string;
let db: Db;
const quiet = { info() {}, error() {} };
const admit = { limit: 10, perClientLimit: 10, clientId: "r", modelVersionId: null };
const req = (body: object) => withCandidates(withSamplingDefaults(GenerationParams.parse(body), SAMPLING_FALLBACK), CANDIDATES_FALLBACK);

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-rerank-worker-"));
  const url = `file:${path.join(dir, "t.db")}`;
  await migrate(url);
  db = createDb(url);
  await writeTinyModelFolder(path.join(dir, "with-clip"));
  await writeTinyClip(path.join(dir, "with-clip"));
  await writeTinyModelFolder(path.join(dir, "no-clip"));
  await ensureDefaultVersion(db, path.join(dir, "with-clip"));
});
afterAll(async () => {
  await db?.$disconnect();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function run(params: ReturnType<typeof req>): Promise<{ id: string; events: JobEvent[] }> {
  const registry = new ModelRegistry(db);
  const worker = new GenerationWorker(db, registry, { concurrency: 1, partialEvery: 16, log: quiet });
  const { id } = await enqueue(db, params, admit);
  const events: JobEvent[] = [];
  const finished = new Promise<void>((resolve) =>
    worker.events.on(id, (e: JobEvent) => {
      events.push(e);
      if (e.type === "done" || e.type === "failed") resolve();
    }),
  );
  worker.start();
  await finished;
  await worker.stop();
  registry.dispose();
  return { id, events };
}

/** PNGs → CLIP's input [N, 32, 32, 3] in [0, 1]. */
async function pixelsOf(pngs: Uint8Array[]): Promise<tf.Tensor4D> {
  const raw = await Promise.all(pngs.map((p) => sharp(Buffer.from(p)).raw().toBuffer()));
  return tf.tensor4d(
    Float32Array.from(Buffer.concat(raw), (v) => v / 255),
    [pngs.length, 32, 32, 3],
  );
}

describe("reranking in the worker", () => {
  it("samples the candidates, keeps the n best by CLIP's score of the prompt, and stores every candidate's score", async () => {
    const prompt = "red heart, twemoji";
    // Seed 7: the two best are not the first two sampled, so keeping the first n instead of the best n fails here.
    const { id, events } = await run(req({ prompt, n: 2, candidates: 6, seed: 7 }));
    expect(events.at(-1)).toEqual({ type: "done" });
    // Partial pictures stream for the first n candidates only.
    const partials = events.flatMap((e) => (e.type === "progress" && e.partial ? [e.partial] : []));
    expect(partials.length).toBe(3);
    for (const p of partials) expect(p).toHaveLength(2);

    const job = (await getGeneration(db, id))!;
    expect(job.status).toBe("done");
    expect(job.candidates).toBe(6);
    expect(job.params).toMatchObject({ n: 2, candidates: 6 });
    expect(job.images.map((i) => i.index)).toEqual([0, 1]);
    expect(job.rejected.map((i) => i.index)).toEqual([2, 3, 4, 5]);
    const kept = job.images.map((i) => i.score!);
    const rejected = job.rejected.map((i) => i.score!);
    expect([...kept, ...rejected].every((s) => typeof s === "number" && s >= -1 && s <= 1)).toBe(true);
    // Best first, and no rejected candidate scored above a kept one.
    expect(kept[0]).toBeGreaterThanOrEqual(kept[1]);
    expect(Math.min(...kept)).toBeGreaterThanOrEqual(Math.max(...rejected));
    expect(rejected).toEqual([...rejected].sort((a, b) => b - a));

    // Each stored score is CLIP's cosine of that stored image with the prompt (not with the <null> caption).
    const rows = await db.image.findMany({ where: { generationId: id }, orderBy: { index: "asc" } });
    expect(rows.map((r) => r.rejected)).toEqual([false, false, true, true, true, true]);
    const clipDir = path.join(dir, "with-clip", "clip");
    const clip = Clip.load(clipDir).model;
    const text = await loadTextTokenizer(clipDir);
    const ids = tf.tensor2d([text.encode(prompt, clip.config.textLen).ids], [1, clip.config.textLen], "int32");
    const pixels = await pixelsOf(rows.map((r) => r.png!)); // IMAGE_STORE=database: bytes in the row
    const scores = clip.score(ids, pixels); // [1, 6]
    const embeddings = clip.encodeImages(pixels); // [6, D]
    const want = Array.from(await scores.data());
    const wantEmbedding = Array.from((await embeddings.data()).subarray(0, clip.config.embedDim));
    tf.dispose([ids, pixels, scores, embeddings]);
    clip.dispose();
    rows.forEach((r, i) => expect(r.score).toBeCloseTo(want[i], 4));
    // The kept image's CLIP embedding is stored with it.
    const stored = embeddingOf(rows[0].embedding!);
    stored.forEach((v, i) => expect(v).toBeCloseTo(wantEmbedding[i], 4));
  });

  it("searches the stored embeddings by meaning (the query's CLIP embedding) and finds more like this", async () => {
    const { id: other } = await run(req({ prompt: "grinning cat, noto", n: 2, candidates: 3, seed: 2 }));
    const first = (await db.generation.findFirstOrThrow({ where: { prompt: "red heart, twemoji" } })).id;
    const before = tf.memory().numTensors;
    const registry = new ModelRegistry(db);
    const query = "red heart";
    const found = await searchByMeaning(db, registry, query, 10);
    registry.dispose();
    // Loading, warming up, embedding the query and disposing the model leave no tensor behind.
    expect(tf.memory().numTensors).toBe(before);
    if (!found.available) throw new Error(found.reason);
    expect(found.results.map((r) => r.generationId).sort()).toEqual([first, other].sort());
    // Only kept images are searched: rejected candidates never stand for a generation.
    const kept = await db.image.findMany({ where: { generationId: { in: [first, other] }, rejected: false }, select: { id: true } });
    const listed = await listImageEmbeddings(db, found.modelVersionId);
    expect(listed.map((l) => l.imageId).sort()).toEqual(kept.map((k) => k.id).sort());
    // Each generation's similarity is its closest kept image's cosine with the query text, recomputed here.
    const clipDir = path.join(dir, "with-clip", "clip");
    const clip = Clip.load(clipDir).model;
    const text = await loadTextTokenizer(clipDir);
    const ids = tf.tensor2d([text.encode(query, clip.config.textLen).ids], [1, clip.config.textLen], "int32");
    for (const r of found.results) {
      const kept = await db.image.findMany({ where: { generationId: r.generationId, rejected: false } });
      const pixels = await pixelsOf(kept.map((k) => k.png!));
      const s = clip.score(ids, pixels); // [1, n]
      const want = Math.max(...(await s.data()));
      tf.dispose([pixels, s]);
      expect(r.similarity).toBeCloseTo(want, 4);
    }
    ids.dispose();
    clip.dispose();
    expect(found.results[0].similarity).toBeGreaterThanOrEqual(found.results[1].similarity);
    // Image → image: the other generation, never itself.
    expect((await moreLikeThis(db, first, 5)).map((r) => r.generationId)).toEqual([other]);
  });

  it("with a model that has no CLIP, samples n, ranks nothing and says reranking was off", async () => {
    await db.modelVersion.updateMany({ data: { active: false } });
    await db.modelVersion.create({ data: { name: "no-clip", kind: "dalle", path: path.join(dir, "no-clip"), config: {}, active: true } });
    const { id, events } = await run(req({ prompt: "grinning cat", n: 2, candidates: 6, seed: 7 }));
    expect(events.at(-1)).toEqual({ type: "done" });
    const job = (await getGeneration(db, id))!;
    expect(job.candidates).toBeNull();
    expect(job.images).toHaveLength(2);
    expect(job.images.every((i) => i.score === null)).toBe(true);
    expect(job.rejected).toEqual([]);
    const registry = new ModelRegistry(db);
    expect(await searchByMeaning(db, registry, "red heart", 10)).toEqual({
      available: false,
      reason: "the active model no-clip has no CLIP",
    });
    registry.dispose();
  });

  it("generates with reranking without leaking tensors", async () => {
    const bundle = await loadModelBundle(path.join(dir, "with-clip"));
    try {
      const params = { prompt: "waving hand", n: 2, candidates: 4, guidance: 2, temperature: 1, seed: 2 };
      await generateImages(bundle, params, { partialEvery: 32 }); // warm-up: kernels and caches are not leaks
      const before = tf.memory().numTensors;
      const r = await generateImages(bundle, params, { partialEvery: 32 });
      expect(tf.memory().numTensors).toBe(before);
      expect([r.images.length, r.rejected.length, r.candidates]).toEqual([2, 2, 4]);
    } finally {
      bundle.dispose();
    }
  });
});
