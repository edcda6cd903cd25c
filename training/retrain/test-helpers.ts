// Fixtures for the retrain tests: a folder of noisy uploads, and a small DAE checkpoint that changes pixels enough
// for a test to tell its output from its input.
import fs from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import sharp from "sharp";
import { mulberry32 } from "../../lib/data/rng";
import { formatCaption } from "../../lib/data/shapes/caption";
import { renderScene, sampleScene } from "../../lib/data/shapes/render";
import { saveCheckpoint } from "../../lib/model/checkpoint";
import { DAE } from "../../lib/model/dae";
import { DEFAULT_DAE_CONFIG, type DAEConfig } from "../../lib/model/dae-config";

/** `count` 32×32 shape scenes with ±24 grey levels of uniform noise, as PNGs + captions.jsonl in `dir`. */
export async function writeNoisyUploads(dir: string, count: number, seed = 3): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const rand = mulberry32(seed);
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const scene = sampleScene(rand, "exclude");
    const pixels = renderScene(scene, rand).image;
    for (let j = 0; j < pixels.length; j++) pixels[j] = Math.max(0, Math.min(255, pixels[j] + Math.round((rand() - 0.5) * 48)));
    const png = await sharp(Buffer.from(pixels), { raw: { width: 32, height: 32, channels: 3 } })
      .png()
      .toBuffer();
    fs.writeFileSync(path.join(dir, `up${i}.png`), png);
    lines.push(JSON.stringify({ file: `up${i}.png`, caption: formatCaption(scene) }));
  }
  fs.writeFileSync(path.join(dir, "captions.jsonl"), lines.join("\n") + "\n");
}

/**
 * Saves a tiny DAE to `dir`. A fresh DAE is close to the identity (its last layer starts small), which would let a
 * test pass with or without denoising; its last layer is scaled up and given a colour shift so every image changes.
 */
export async function saveTestDae(dir: string, config: Partial<DAEConfig> = {}, seed = 7): Promise<void> {
  const model = new DAE({ ...DEFAULT_DAE_CONFIG, widths: [8, 16], resBlocks: 0, ...config }, seed);
  try {
    const w = model.params.get("dae.out.w");
    const b = model.params.get("dae.out.b");
    tf.tidy(() => {
      w.assign(tf.mul(w, 8));
      b.assign(tf.tensor1d(Array.from({ length: b.shape[0] }, (_, i) => [0.06, -0.05, 0.03][i % 3])));
    });
    await saveCheckpoint(dir, model.params.all(), { kind: "dae", config: model.config, dtype: "float32" });
  } finally {
    model.dispose();
  }
}
