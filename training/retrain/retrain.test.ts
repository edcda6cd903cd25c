// A tiny end-to-end retrain on an admin-style image folder: it registers and activates a version the generator
// then uses, reports what it skipped, and a second run skips every finished stage.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mulberry32 } from "../../lib/data/rng";
import { formatCaption } from "../../lib/data/shapes/caption";
import { renderScene, sampleScene } from "../../lib/data/shapes/render";
import { readManifest } from "../../lib/data/manifest";
import { createDb, type Db } from "../../lib/db/client";
import { migrate } from "../../lib/db/migrate";
import { generateImages } from "../../lib/generate/generate";
import { ModelRegistry } from "../../lib/generate/registry";
import { selectBackend } from "../../lib/tensor/backend";
import { registerFastGradients } from "../../lib/tensor/gradients";
import { retrain } from "./pipeline";

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
    db,
    log: () => {},
  });

  it("builds, trains, registers and activates a version that then generates", { timeout: 240_000 }, async () => {
    const r = await retrain(options());
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

    const registry = new ModelRegistry(db);
    const lease = await registry.acquire();
    expect(lease.versionId).toBe(r.versionId);
    const out = await generateImages(lease.bundle, {
      prompt: "a small red circle in the center",
      n: 1,
      guidance: 3,
      temperature: 1,
      seed: 1,
    });
    expect(out.images).toHaveLength(1);
    lease.release();
    registry.dispose();
  });

  it("skips every finished stage when run again with the same inputs", { timeout: 60_000 }, async () => {
    const r = await retrain(options());
    expect(r.skipped).toEqual(["data", "image-tokenizer", "text-tokenizer", "codes", "transformer", "export", "evaluate", "register"]);
  });

  it("after an interrupt in the transformer stage, redoes only that stage onwards, from its checkpoint", { timeout: 120_000 }, async () => {
    const stateFile = path.join(dir, "runs", "mine", "state.json");
    const state = JSON.parse(fs.readFileSync(stateFile, "utf8"));
    for (const s of ["transformer", "export", "evaluate", "register"]) delete state.stages[s];
    fs.writeFileSync(stateFile, JSON.stringify(state));
    const lines: string[] = [];
    const r = await retrain({ ...options(), log: (l: string) => lines.push(l) });
    expect(r.skipped).toEqual(["data", "image-tokenizer", "text-tokenizer", "codes"]);
    expect(lines.some((l) => /resumed from .*gpt.*at step \d+/.test(l))).toBe(true);
  });
});
