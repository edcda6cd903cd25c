// `npx tsx training/lab/vae-colour.ts DIR… [--data data/datasets/emoji] [--size 32]`: how much colour a VAE checkpoint
// (a folder `npm run train:lab -- --model vae` wrote) keeps in its reconstructions decode(μ(x)) of the val split, one
// JSON line per folder, beside its manifest's val bits/dim. A decoder that explains colour away as variance scores
// a low spread and saturation against the originals' (README, "The lab's VAE"); bits/dim alone does not show it.
import { sequentialBatches } from "../../lib/data/batches";
import { loadSplit } from "../../lib/data/manifest";
import type { Shard } from "../../lib/data/shard";
import { VAE } from "../../lib/model/vae";
import { initBackend } from "../../lib/tensor/backend";
import { runMain } from "../cli";

export interface ColourStats {
  /** Mean |recon − original| per RGB value, in 8-bit levels. */
  mae: number;
  /** Mean HSV saturation (max − min)/max per pixel, originals and reconstructions. */
  saturation: { original: number; recon: number };
  /** Mean Euclidean RGB distance of each pixel from its own image's mean colour, in levels: the colour spread. */
  spread: { original: number; recon: number };
}

/** Running sums of one image set's saturation and spread. */
function accumulate(px: Float32Array, pixels: number, sums: { sat: number; spread: number }): void {
  const perImage = pixels * 3;
  for (let at = 0; at < px.length; at += perImage) {
    const mean = [0, 0, 0];
    for (let i = at; i < at + perImage; i += 3) for (let c = 0; c < 3; c++) mean[c] += px[i + c] / pixels;
    for (let i = at; i < at + perImage; i += 3) {
      const [r, g, b] = [px[i], px[i + 1], px[i + 2]];
      const max = Math.max(r, g, b);
      sums.sat += max > 0 ? (max - Math.min(r, g, b)) / max : 0;
      sums.spread += Math.hypot(r - mean[0], g - mean[1], b - mean[2]);
    }
  }
}

export async function colourStats(model: VAE, val: Shard, batchSize = 128): Promise<ColourStats> {
  const pixels = val.height * val.width;
  const orig = { sat: 0, spread: 0 };
  const rec = { sat: 0, spread: 0 };
  let absErr = 0;
  for (const { images } of sequentialBatches(val, batchSize)) {
    const recon = model.reconstruct(images); // [B, S, S, 3] in [0, 1]
    // In 8-bit levels, the reconstructions rounded as a PNG would store them.
    const x = Float32Array.from(await images.data(), (v) => Math.round(v * 255));
    const y = Float32Array.from(await recon.data(), (v) => Math.round(v * 255));
    for (let i = 0; i < x.length; i++) absErr += Math.abs(x[i] - y[i]);
    accumulate(x, pixels, orig);
    accumulate(y, pixels, rec);
    images.dispose();
    recon.dispose();
  }
  const n = val.count * pixels;
  return {
    mae: absErr / (3 * n),
    saturation: { original: orig.sat / n, recon: rec.sat / n },
    spread: { original: orig.spread / n, recon: rec.spread / n },
  };
}

if (process.argv[1]?.endsWith("vae-colour.ts"))
  runMain("vae-colour", async () => {
    const args = process.argv.slice(2);
    const flag = (name: string, fallback: string) => {
      const i = args.indexOf(name);
      return i >= 0 ? args.splice(i, 2)[1] : fallback;
    };
    const data = flag("--data", "data/datasets/emoji");
    const size = Number(flag("--size", "32"));
    if (!args.length) throw new Error("usage: npx tsx training/lab/vae-colour.ts DIR… [--data DIR] [--size 32]");
    await initBackend();
    const val = loadSplit(data, "val", size);
    for (const dir of args) {
      const { model, manifest } = VAE.load(dir);
      const stats = await colourStats(model, val);
      console.log(JSON.stringify({ dir, likelihood: model.config.likelihood, valBitsPerDim: manifest.metrics?.valBitsPerDim, ...stats }));
      model.dispose();
    }
  });
