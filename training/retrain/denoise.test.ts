// --denoise: the built dataset's shards become the DAE's output (and stay a valid dataset), the before/after sheet
// and the numbers are written, every bad denoiser is refused with a message before any work, and the lab is
// carried into a new model folder.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSplit, readManifest, SPLITS } from "../../lib/data/manifest";
import { createDb, type Db } from "../../lib/db/client";
import { migrate } from "../../lib/db/migrate";
import { activateModelVersion, upsertModelVersion } from "../../lib/db/versions";
import { saveCheckpoint } from "../../lib/model/checkpoint";
import { DAE } from "../../lib/model/dae";
import { selectBackend } from "../../lib/tensor/backend";
import { buildCustom } from "../data/build-custom";
import { tensorToImages } from "../image-grid";
import { checkDenoiser, denoiseDataset, denoiserDir, denoisePixels } from "./denoise";
import { carryLab, findLabSource } from "./lab-carry";
import { retrain } from "./pipeline";
import { saveTestDae, writeNoisyUploads } from "./test-helpers";

let dir: string;
let db: Db;
const daeDir = () => path.join(dir, "dae");

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-denoise-"));
  await writeNoisyUploads(path.join(dir, "uploads"), 20);
  await buildCustom({ srcDir: path.join(dir, "uploads"), outDir: path.join(dir, "plain"), size: 32, seed: 1234, log: () => {} });
  await saveTestDae(daeDir());
  const url = `file:${path.join(dir, "db", "t.db")}`;
  await migrate(url);
  db = createDb(url);
}, 60_000);
afterAll(async () => {
  await db?.$disconnect();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The DAE run directly on a whole split of the un-denoised dataset, one batch: what the shard must now hold. */
async function expected(model: DAE, split: (typeof SPLITS)[number]): Promise<Uint8Array> {
  const s = loadSplit(path.join(dir, "plain"), split, 32);
  const x = tf.tidy(() => tf.div(tf.tensor4d(Float32Array.from(s.data), [s.count, 32, 32, 3]), 255) as tf.Tensor4D);
  const y = model.denoise(x);
  const images = await tensorToImages(y);
  tf.dispose([x, y]);
  const out = new Uint8Array(s.data.length);
  images.forEach((img, i) => out.set(img, i * img.length));
  return out;
}

describe("denoiseDataset", () => {
  it("rewrites every shard as the DAE's output, keeps the dataset valid, and reports the change", async () => {
    const ds = path.join(dir, "cleaned");
    fs.cpSync(path.join(dir, "plain"), ds, { recursive: true });
    const { model } = DAE.load(daeDir());
    try {
      const denoiser = checkDenoiser(daeDir(), 32);
      const lines: string[] = [];
      const sheet = path.join(dir, "sheet", "denoise.png");
      const tensors = tf.memory().numTensors;
      const report = await denoiseDataset(ds, model, denoiser, sheet, (l) => lines.push(l));
      expect(tf.memory().numTensors).toBe(tensors);

      const manifest = readManifest(ds);
      let images = 0;
      let sum = 0;
      let max = 0;
      for (const split of SPLITS) {
        // loadSplit checks each shard against the sha256 the manifest now records.
        const got = loadSplit(ds, split, 32, manifest).data;
        const plain = loadSplit(path.join(dir, "plain"), split, 32).data;
        const want = await expected(model, split);
        // One batch here, batches of 64 there: rounding may differ by one grey level, nothing more.
        let off = 0;
        for (let j = 0; j < got.length; j++) {
          off = Math.max(off, Math.abs(got[j] - want[j]));
          sum += Math.abs(got[j] - plain[j]);
          max = Math.max(max, Math.abs(got[j] - plain[j]));
        }
        expect(off, split).toBeLessThanOrEqual(1);
        images += got.length / 3072;
      }
      // The test DAE changes every image a lot, so "not written" cannot pass for "written".
      expect(report.meanAbsChange).toBeGreaterThan(5);
      expect(report).toMatchObject({ images, maxAbsChange: max, denoiserHash: denoiser.hash, sheet });
      expect(report.meanAbsChange).toBeCloseTo(sum / (images * 3072), 2);
      expect(manifest.notes.denoise).toMatchObject({ images, maxAbsChange: max, denoiserHash: denoiser.hash });
      // Two row pairs of 12: the first uploads, then the most changed ones.
      const meta = await sharp(sheet).metadata();
      expect([meta.width, meta.height]).toEqual([12 * 66 + 2, 4 * 66 + 2]);
      expect(lines.join("\n")).toMatch(new RegExp(`${images} images cleaned by .*dae`));
      expect(lines.join("\n")).toMatch(/mean change \d+\.\d\d grey levels per pixel value, largest \d+/);
      expect(fs.readdirSync(ds).filter((f) => f.startsWith("."))).toEqual([]);
    } finally {
      model.dispose();
    }
  });

  it("denoisePixels does not leak and refuses a wrong byte count", async () => {
    const { model } = DAE.load(daeDir());
    try {
      const before = tf.memory().numTensors;
      await denoisePixels(model, new Uint8Array(3 * 3072), 3, 2);
      expect(tf.memory().numTensors).toBe(before);
      await expect(denoisePixels(model, new Uint8Array(100), 1)).rejects.toThrow(/100 bytes is not 1 images of 32×32×3/);
    } finally {
      model.dispose();
    }
  });
});

describe("retrain --denoise refuses, before any work", () => {
  const options = (o: Record<string, unknown>) => ({
    name: "refused",
    data: path.join(dir, "uploads"),
    preset: "tiny" as const,
    reuseTokenizer: false,
    activate: false,
    runsDir: path.join(dir, "runs"),
    modelsDir: path.join(dir, "models"),
    defaultModelDir: path.join(dir, "shipped"),
    db,
    log: () => {},
    ...o,
  });
  const nothingBuilt = () => expect(fs.existsSync(path.join(dir, "runs", "refused", "dataset"))).toBe(false);

  it("without --data: the emoji corpus is clean", async () => {
    await expect(retrain(options({ data: undefined, denoise: true }))).rejects.toThrow(/--denoise needs --data FOLDER.*emoji corpus/);
    nothingBuilt();
  });

  it("--denoiser without --denoise", async () => {
    await expect(retrain(options({ denoiser: daeDir() }))).rejects.toThrow(/--denoiser DIR is only used with --denoise/);
  });

  it("a missing denoiser folder: names it and says how to train one", async () => {
    const err = retrain(options({ denoise: true }));
    await expect(err).rejects.toThrow(path.join(dir, "shipped", "lab", "dae"));
    await expect(retrain(options({ denoise: true }))).rejects.toThrow(
      /does not exist; train one with `npm run train:lab -- --model dae --export models\/default\/lab\/dae`/,
    );
    nothingBuilt();
  });

  it("a folder that is not a DAE checkpoint", async () => {
    const empty = path.join(dir, "not-a-dae");
    fs.mkdirSync(empty, { recursive: true });
    await expect(retrain(options({ denoise: true, denoiser: empty }))).rejects.toThrow(
      /not-a-dae is not a DAE checkpoint \(cannot read checkpoint manifest/,
    );
    const other = path.join(dir, "other-kind");
    await saveCheckpoint(other, new Map([["w", tf.zeros([1])]]), { kind: "vae", config: {} });
    await expect(retrain(options({ denoise: true, denoiser: other }))).rejects.toThrow(
      /other-kind is not a DAE checkpoint \(it holds a "vae" checkpoint\)/,
    );
    nothingBuilt();
  });

  it("a DAE for another image size or channel count", async () => {
    const small = path.join(dir, "dae16");
    await saveTestDae(small, { imageSize: 16 });
    await expect(retrain(options({ denoise: true, denoiser: small }))).rejects.toThrow(
      /cleans 16×16×3 images, but this preset builds 32×32×3/,
    );
    const grey = path.join(dir, "dae-grey");
    await saveTestDae(grey, { channels: 1 });
    await expect(retrain(options({ denoise: true, denoiser: grey }))).rejects.toThrow(
      /cleans 32×32×1 images, but this preset builds 32×32×3/,
    );
    nothingBuilt();
  });
});

describe("where the denoiser and the lab come from", () => {
  it("the active version's lab/dae, else the shipped model's; --denoiser overrides", async () => {
    const shipped = path.join(dir, "shipped2");
    expect(await denoiserDir(db, undefined, shipped)).toBe(path.join(shipped, "lab", "dae"));
    expect(await denoiserDir(db, "some/where", shipped)).toBe(path.resolve("some/where"));
    const active = path.join(dir, "active-model");
    fs.cpSync(daeDir(), path.join(active, "lab", "dae"), { recursive: true });
    const v = await upsertModelVersion(db, { name: "active-for-denoise", kind: "dalle", path: active, config: {}, metrics: {} });
    await activateModelVersion(db, v.id);
    try {
      expect(await denoiserDir(db, undefined, shipped)).toBe(path.join(active, "lab", "dae"));
      const source = await findLabSource(db, shipped);
      expect(source).toMatchObject({ modelDir: active, kinds: ["dae"] });
    } finally {
      await db.modelVersion.delete({ where: { id: v.id } });
    }
  });

  it("carries the lab's models (not half-saved ones), keeps one already in place, and says when there is none", async () => {
    const shipped = path.join(dir, "shipped3");
    fs.cpSync(daeDir(), path.join(shipped, "lab", "dae"), { recursive: true });
    fs.mkdirSync(path.join(shipped, "lab", ".vae.tmp-123"), { recursive: true });
    const source = await findLabSource(db, shipped);
    expect(source?.kinds).toEqual(["dae"]);
    const target = path.join(dir, "models", "new");
    fs.mkdirSync(target, { recursive: true });
    expect(carryLab(source, target)).toMatch(/^lab: carried dae from .*shipped3$/);
    expect(fs.readFileSync(path.join(target, "lab", "dae", "manifest.json"), "utf8")).toBe(
      fs.readFileSync(path.join(daeDir(), "manifest.json"), "utf8"),
    );
    expect(fs.readdirSync(path.join(target, "lab"))).toEqual(["dae"]);
    // A copy hashes as its source, so a re-run whose active version is the new model does not redo the export.
    expect((await findLabSource(db, target))?.hash).toBe(source?.hash);
    expect(carryLab({ modelDir: target, kinds: ["dae"], hash: "" }, target)).toMatch(/^lab: kept dae \(already in/);
    expect(await findLabSource(db, path.join(dir, "nothing-here"))).toBeUndefined();
    expect(carryLab(undefined, target)).toMatch(/^lab: no lab to carry/);
  });
});
