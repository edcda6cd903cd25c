// Typicality through the real job path: tiny model folders (one with a CLIP and a tiny flow in lab/flow/, one with
// neither), a real SQLite database, the worker. Every stored image of a job on the flow's model — kept and rejected
// candidates alike — carries its bits/dim, the very number the flow gives its stored PNG, and the flag says
// whether that is above the flow's threshold; without a flow both are null. Loading and scoring leak nothing.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeTinyClip } from "../../test/fixtures/tiny-clip";
import { TINY_FLOW_CONFIG, writeTinyFlow } from "../../test/fixtures/tiny-flow";
import { writeTinyModelFolder } from "../../test/fixtures/tiny-model";
import { createDb, type Db } from "../db/client";
import { migrate } from "../db/migrate";
import { RealNVP } from "../model/flow";
import { selectBackend } from "../tensor/backend";
import { loadModelBundle } from "./model-bundle";
import { CANDIDATES_FALLBACK, GenerationParams, SAMPLING_FALLBACK, withCandidates, withSamplingDefaults } from "./params";
import { enqueue } from "./queue";
import { ensureDefaultVersion, ModelRegistry } from "./registry";
import { FLOW_SUBDIR, loadTypicality, scoreTypicality, TYPICALITY_SEED, withTypicality } from "./typicality";
import { GenerationWorker, type JobEvent } from "./worker";

let dir: string;
let db: Db;
let plain: string;
const quiet = { info() {}, error() {} };
const req = (body: object) => withCandidates(withSamplingDefaults(GenerationParams.parse(body), SAMPLING_FALLBACK), CANDIDATES_FALLBACK);

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-typicality-"));
  const url = `file:${path.join(dir, "t.db")}`;
  await migrate(url);
  db = createDb(url);
  await writeTinyModelFolder(path.join(dir, "with-flow"));
  await writeTinyClip(path.join(dir, "with-flow"));
  await writeTinyFlow(path.join(dir, "with-flow"), 0);
  await ensureDefaultVersion(db, path.join(dir, "with-flow"));
  await writeTinyModelFolder(path.join(dir, "plain"));
  plain = (await db.modelVersion.create({ data: { name: "plain", kind: "dalle", path: path.join(dir, "plain"), config: {} } })).id;
});
afterAll(async () => {
  await db?.$disconnect();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** One job through a fresh registry and worker (a fresh registry reads the flow's manifest anew). */
async function run(body: object, modelVersionId: string | null = null): Promise<string> {
  const registry = new ModelRegistry(db);
  const worker = new GenerationWorker(db, registry, { concurrency: 1, partialEvery: 0, log: quiet });
  const { id } = await enqueue(db, req(body), { limit: 10, perClientLimit: 10, clientId: "t", modelVersionId });
  const done = new Promise<JobEvent>((resolve) =>
    worker.events.on(id, (e: JobEvent) => (e.type === "done" || e.type === "failed") && resolve(e)),
  );
  worker.start();
  expect(await done).toEqual({ type: "done" });
  await worker.stop();
  registry.dispose();
  return id;
}

const rowsOf = (id: string) => db.image.findMany({ where: { generationId: id }, orderBy: { index: "asc" } });

/** The flow's own bits/dim of stored PNGs, recomputed from their bytes. */
async function recompute(pngs: Uint8Array[]): Promise<number[]> {
  const raw = Buffer.concat(await Promise.all(pngs.map((p) => sharp(Buffer.from(p)).raw().toBuffer())));
  const flow = RealNVP.load(path.join(dir, "with-flow", FLOW_SUBDIR)).model;
  const pixels = tf.tensor4d(Int32Array.from(raw), [pngs.length, 32, 32, 3], "int32");
  // One image at a time: a stored score must not depend on the batch it was scored in.
  const bpd = tf.concat(
    Array.from({ length: pngs.length }, (_, i) => tf.tidy(() => flow.bitsPerDim(tf.slice(pixels, i, 1), TYPICALITY_SEED, "shared"))),
  );
  const out = Array.from(await bpd.data());
  tf.dispose([pixels, bpd]);
  flow.dispose();
  return out;
}

/** Rewrites the flow's threshold in its manifest (the weights' checksum does not cover the metrics). */
function setThreshold(threshold: number): void {
  const file = path.join(dir, "with-flow", FLOW_SUBDIR, "manifest.json");
  const m = JSON.parse(fs.readFileSync(file, "utf8"));
  fs.writeFileSync(file, JSON.stringify({ ...m, metrics: { ...m.metrics, typicalThreshold: threshold } }));
}

describe("typicality in the worker", () => {
  it("stores every candidate's bits/dim under the model's flow, the flow's own number for the stored PNG", async () => {
    setThreshold(0);
    const id = await run({ prompt: "red heart, twemoji", n: 2, candidates: 5, seed: 3 });
    const rows = await rowsOf(id);
    expect(rows.map((r) => r.rejected)).toEqual([false, false, true, true, true]);
    const want = await recompute(rows.map((r) => r.png!));
    rows.forEach((r, i) => expect(r.bitsPerDim).toBeCloseTo(want[i], 4));
    // Different images, different scores: each row got its own (not one image's number for all).
    expect(new Set(want.map((v) => v.toFixed(4))).size).toBe(5);
    // Above a threshold of 0 bits/dim, every image is far off the data.
    expect(rows.map((r) => r.atypical)).toEqual([true, true, true, true, true]);
  });

  it("flags exactly the images above the flow's threshold", async () => {
    const body = { prompt: "grinning cat, noto", n: 3, candidates: 6, seed: 8 };
    setThreshold(1e9);
    const first = await rowsOf(await run(body));
    expect(first.every((r) => r.atypical === false)).toBe(true);
    // A threshold between the scores: the same job (same seed, same images) now has images on both sides.
    const sorted = first.map((r) => r.bitsPerDim!).sort((a, b) => a - b);
    const threshold = (sorted[2] + sorted[3]) / 2;
    setThreshold(threshold);
    const again = await rowsOf(await run(body));
    expect(again.map((r) => r.bitsPerDim)).toEqual(first.map((r) => r.bitsPerDim));
    expect(again.map((r) => r.atypical)).toEqual(again.map((r) => r.bitsPerDim! > threshold));
    expect(again.filter((r) => r.atypical)).toHaveLength(3);
  });

  it("leaves bits/dim and the flag null for a model without a flow", async () => {
    const rows = await rowsOf(await run({ prompt: "waving hand, openmoji", n: 2, seed: 4 }, plain));
    expect(rows).toHaveLength(2);
    expect(rows.map((r) => [r.bitsPerDim, r.atypical])).toEqual([
      [null, null],
      [null, null],
    ]);
  });
});

describe("typicality scoring", () => {
  it("loads the flow with the bundle, scores and disposes without leaking a tensor", async () => {
    const before = tf.memory().numTensors;
    const bundle = await loadModelBundle(path.join(dir, "with-flow"));
    expect(bundle.typicality?.model.config).toEqual(TINY_FLOW_CONFIG);
    const bytes = Uint8Array.from({ length: 2 * 32 * 32 * 3 }, (_, k) => (k * 31) % 256);
    const scored = await withTypicality(bundle.typicality, bytes, [{ n: 0 }, { n: 1 }]);
    expect(scored.map((s) => typeof s.bitsPerDim)).toEqual(["number", "number"]);
    expect(await withTypicality(undefined, bytes, [{ n: 0 }])).toEqual([{ n: 0 }]);
    await scoreTypicality(bundle.typicality!, bytes, 2);
    bundle.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const none = await loadModelBundle(path.join(dir, "plain"));
    expect(none.typicality).toBeUndefined();
    none.dispose();
  });

  it("refuses a flow that scores another image size", async () => {
    const folder = path.join(dir, "odd");
    fs.mkdirSync(folder);
    const flow = new RealNVP({ ...TINY_FLOW_CONFIG, imageSize: 16 }, 1);
    await flow.save(path.join(folder, FLOW_SUBDIR));
    flow.dispose();
    const before = tf.memory().numTensors;
    expect(() => loadTypicality(folder, 32)).toThrow(/scores 16×16×3 images, the image tokenizer draws 32×32×3/);
    expect(tf.memory().numTensors).toBe(before);
    expect(loadTypicality(path.join(dir, "plain"), 32)).toBeUndefined();
  });
});
