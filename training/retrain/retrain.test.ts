// A tiny end-to-end retrain on an admin-style image folder: it registers and activates a version the generator
// then uses, reranking its candidates with the CLIP and the exemplar bank the pipeline wrote, reports what it
// skipped, and a second run skips every finished stage; the lab is carried into the new model folder, and a re-run
// with --denoise trains afresh on the DAE's output.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mulberry32 } from "../../lib/data/rng";
import { formatCaption } from "../../lib/data/shapes/caption";
import { renderScene, sampleScene } from "../../lib/data/shapes/render";
import { datasetHash, loadSplit, readManifest, SPLITS } from "../../lib/data/manifest";
import { createDb, type Db } from "../../lib/db/client";
import { migrate } from "../../lib/db/migrate";
import { loadExemplars } from "../../lib/generate/exemplar-folder";
import { generateImages } from "../../lib/generate/generate";
import { ModelRegistry } from "../../lib/generate/registry";
import { readCheckpointManifest } from "../../lib/model/checkpoint";
import { selectBackend } from "../../lib/tensor/backend";
import { registerFastGradients } from "../../lib/tensor/gradients";
import * as tf from "@tensorflow/tfjs";
import { DAE } from "../../lib/model/dae";
import { denoisePixels } from "./denoise";
import { retrain } from "./pipeline";
import { saveTestDae } from "./test-helpers";

let dir: string;
let db: Db;

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  registerFastGradients();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-retrain-"));
  const src = path.join(dir, "my-images");
  fs.mkdirSync(src);
  const rand = mulberry32(5);
  const lines: string[] = [];
  for (let i = 0; i < 200; i++) {
    const scene = sampleScene(rand, "exclude");
    // Any size: 32×32 renders enlarged to 48×40, so the build has to resize and centre-crop.
    const pixels = renderScene(scene, rand).image;
    // A corner pixel unique to each file: only the deliberate copy below is a duplicate.
    pixels.set([i % 256, Math.floor(i / 256), 7], 0);
    const png = await sharp(Buffer.from(pixels), { raw: { width: 32, height: 32, channels: 3 } })
      .resize(48, 40, { fit: "fill", kernel: "nearest" })
      .png()
      .toBuffer();
    fs.writeFileSync(path.join(src, `img${i}.png`), png);
    lines.push(JSON.stringify({ file: `img${i}.png`, caption: formatCaption(scene) }));
  }
  fs.writeFileSync(path.join(src, "broken.png"), "not a png");
  lines.push(JSON.stringify({ file: "broken.png", caption: "a broken file" }));
  fs.copyFileSync(path.join(src, "img0.png"), path.join(src, "copy.png"));
  lines.push(JSON.stringify({ file: "copy.png", caption: JSON.parse(lines[0]).caption }));
  fs.copyFileSync(path.join(src, "img1.png"), path.join(src, "uncaptioned.png"));
  fs.writeFileSync(path.join(src, "captions.jsonl"), lines.join("\n") + "\n");
  // The shipped model's lab: a DAE, and a half-saved folder (as saveCheckpoint leaves mid-write) not to be carried.
  await saveTestDae(path.join(dir, "shipped", "lab", "dae"));
  fs.mkdirSync(path.join(dir, "shipped", "lab", ".vae.tmp-1"), { recursive: true });
  const url = `file:${path.join(dir, "db", "t.db")}`;
  await migrate(url);
  db = createDb(url);
}, 120_000);
afterAll(async () => {
  await db?.$disconnect();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("retrain", () => {
  const options = () => ({
    name: "mine",
    data: path.join(dir, "my-images"),
    preset: "tiny" as const,
    reuseTokenizer: false,
    activate: true,
    runsDir: path.join(dir, "runs"),
    modelsDir: path.join(dir, "models"),
    defaultModelDir: path.join(dir, "shipped"),
    db,
    log: () => {},
  });

  it("builds, trains, registers and activates a version that then generates", { timeout: 240_000 }, async () => {
    const lines: string[] = [];
    const r = await retrain({ ...options(), log: (l: string) => lines.push(l) });
    const notes = readManifest(path.join(dir, "runs", "mine", "dataset")).notes as { skipped: Record<string, string[]> };
    expect(notes.skipped.unreadable).toEqual(["broken.png"]);
    // copy.png and img0.png are the same picture with the same caption: one is kept, the other reported.
    expect(notes.skipped.duplicate).toHaveLength(1);
    expect(["copy.png", "img0.png"]).toContain(notes.skipped.duplicate[0]);
    expect(notes.skipped.noCaption).toEqual(["uncaptioned.png"]);
    const version = await db.modelVersion.findUniqueOrThrow({ where: { id: r.versionId } });
    expect(version.active).toBe(true);
    expect(Object.keys(r.metrics)).toEqual(expect.arrayContaining(["valImageNats", "tokenizerValPsnr"]));
    expect(fs.existsSync(path.join(r.modelDir, "samples.png"))).toBe(true);
    // The lab came along (the active version had none: the shipped model's), without the half-saved folder.
    expect(fs.readdirSync(path.join(r.modelDir, "lab"))).toEqual(["dae"]);
    expect(fs.readFileSync(path.join(r.modelDir, "lab", "dae", "manifest.json"), "utf8")).toBe(
      fs.readFileSync(path.join(dir, "shipped", "lab", "dae", "manifest.json"), "utf8"),
    );
    expect(lines.some((l) => /^lab: carried dae from .*shipped$/.test(l))).toBe(true);
    expect(fs.existsSync(path.join(r.modelDir, "denoise.json"))).toBe(false);
    // The checkpoints record the dataset's hash as every other trainer's do (lib/data/manifest.ts datasetHash).
    const dataset = path.join(dir, "runs", "mine", "dataset");
    for (const sub of [".", "image-tokenizer", "clip"])
      expect(readCheckpointManifest(path.join(r.modelDir, sub)).dataHash, sub).toBe(datasetHash(dataset));
    // The exemplar bank holds the whole train split of the admin's folder (it has no supplementary styles), not val.
    const bank = await loadExemplars(r.modelDir, 32);
    expect(bank?.bank.count).toBe(loadSplit(dataset, "train", 32).count);

    const registry = new ModelRegistry(db);
    const lease = await registry.acquire();
    expect(lease.versionId).toBe(r.versionId);
    // The server found the folder's CLIP and bank: candidates beyond n are sampled, scored and ranked with the vote.
    expect(lease.bundle.clip).toBeDefined();
    expect(lease.bundle.exemplars?.bank.count).toBe(bank?.bank.count);
    const out = await generateImages(lease.bundle, {
      prompt: "a small red circle in the center",
      n: 1,
      candidates: 4,
      guidance: 3,
      temperature: 1,
      seed: 1,
    });
    expect(out.images).toHaveLength(1);
    expect(out.candidates).toBe(4);
    expect(out.rejected).toHaveLength(3);
    expect(lease.bundle.exemplars?.embedded.size).toBeGreaterThan(0);
    lease.release();
    registry.dispose();
  });

  it("skips every finished stage when run again with the same inputs", { timeout: 60_000 }, async () => {
    const r = await retrain(options());
    expect(r.skipped).toEqual([
      "data",
      "image-tokenizer",
      "text-tokenizer",
      "codes",
      "transformer",
      "clip",
      "export",
      "exemplars",
      "evaluate",
      "register",
    ]);
  });

  it("after an interrupt in the transformer stage, redoes only that stage onwards, from its checkpoint", { timeout: 120_000 }, async () => {
    const stateFile = path.join(dir, "runs", "mine", "state.json");
    const state = JSON.parse(fs.readFileSync(stateFile, "utf8"));
    for (const s of ["transformer", "clip", "export", "exemplars", "evaluate", "register"]) delete state.stages[s];
    fs.writeFileSync(stateFile, JSON.stringify(state));
    const lines: string[] = [];
    const r = await retrain({ ...options(), log: (l: string) => lines.push(l) });
    expect(r.skipped).toEqual(["data", "image-tokenizer", "text-tokenizer", "codes"]);
    expect(lines.some((l) => /resumed from .*gpt.*at step \d+/.test(l))).toBe(true);
    expect(lines.some((l) => /resumed from .*clip.*at step \d+/.test(l))).toBe(true);
  });

  it("with --denoise, re-runs every stage on the DAE's output and records what it did", { timeout: 240_000 }, async () => {
    const run = path.join(dir, "runs", "mine");
    // What the denoised shards must hold: the default denoiser (the active version's lab/dae, carried above) run on
    // the dataset as built without --denoise.
    const { model } = DAE.load(path.join(dir, "models", "mine", "lab", "dae"));
    const want = new Map<string, Uint8Array>();
    try {
      for (const split of SPLITS) {
        const s = loadSplit(path.join(run, "dataset"), split, 32);
        want.set(split, await denoisePixels(model, s.data, s.count));
      }
    } finally {
      model.dispose();
    }
    const tensors = tf.memory().numTensors;
    const lines: string[] = [];
    const r = await retrain({ ...options(), denoise: true, log: (l: string) => lines.push(l) });
    expect(tf.memory().numTensors).toBe(tensors);
    expect(r.skipped).toEqual([]);
    // The trainers did not resume the checkpoints of the un-denoised data.
    expect(lines).toContain("vq: its inputs changed since the last checkpoint; starting it afresh");
    expect(lines).toContain("gpt: its inputs changed since the last checkpoint; starting it afresh");
    expect(lines).toContain("clip: its inputs changed since the last checkpoint; starting it afresh");

    let images = 0;
    for (const split of SPLITS) {
      const got = loadSplit(path.join(run, "dataset"), split, 32).data;
      expect(Buffer.from(got).equals(Buffer.from(want.get(split)!)), split).toBe(true);
      images += got.length / 3072;
    }
    const state = JSON.parse(fs.readFileSync(path.join(run, "state.json"), "utf8"));
    const d = state.stages.data.outputs.denoise;
    expect(d).toMatchObject({ images, denoiser: expect.stringMatching(/models\/mine\/lab\/dae$/), sheet: path.join(run, "denoise.png") });
    expect(d.meanAbsChange).toBeGreaterThan(5);
    expect(d.maxAbsChange).toBeGreaterThanOrEqual(d.meanAbsChange);
    expect(fs.existsSync(path.join(run, "denoise.png"))).toBe(true);
    expect(lines.some((l) => l.startsWith(`denoise: ${images} images cleaned by `))).toBe(true);
    // Beside the new model, for an admin looking at it later.
    expect(fs.existsSync(path.join(r.modelDir, "denoise.png"))).toBe(true);
    const saved = JSON.parse(fs.readFileSync(path.join(r.modelDir, "denoise.json"), "utf8"));
    expect(saved).toEqual({ ...d, sheet: "denoise.png" });
    // Retrained under its own name, the active version's lab stays where it is.
    expect(lines.some((l) => /^lab: kept dae \(already in .*models\/mine\)$/.test(l))).toBe(true);
    expect(fs.readdirSync(path.join(r.modelDir, "lab"))).toEqual(["dae"]);
  });
});
