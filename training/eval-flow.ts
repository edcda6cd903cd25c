// `npm run eval:flow -- [--flow models/default/lab/flow] [--data data/datasets/emoji] [--split test] [--seed 1 (the shuffles)]
//   [--generated DIR] [--json FILE]`
// Typicality of a trained Real-NVP (`npm run train:lab -- --model flow --export …`): bits/dim of the real held-out
// emoji against the same images with their pixels shuffled (training/lab/flow-eval.ts), the fraction of pairs the
// flow ranks right (target ≥ 0.99), how many of each its threshold (the manifest's typicalThreshold, the 99th
// percentile of val) flags as far off the data, and the same for the diagonal-Gaussian pixel baseline fitted on
// train. --generated scores a folder of PNGs too (e.g. the app's images). Prints JSON; --json writes it as well.
import fs from "node:fs";
import path from "node:path";
import sharp from "sharp";
import { z } from "zod";
import { loadSplit, readManifest, SPLITS } from "../lib/data/manifest";
import { imageBytes, type Shard } from "../lib/data/shard";
import { RealNVP } from "../lib/model/flow";
import { diagonalGaussianBitsPerDim, fitDiagonalGaussian } from "../lib/model/flow-baseline";
import { initBackend } from "../lib/tensor/backend";
import { parseFlags, runMain } from "./cli";
import { mean, pairedRankedRight, pairsRankedRight, shufflePixels } from "./lab/flow-eval";
import { quantile, shardBitsPerDim } from "./lab/flow-task";

const USAGE =
  "usage: npm run eval:flow -- [--flow DIR] [--data DIR] [--split test|val|train] [--seed N] [--generated DIR_OF_PNGS] [--json FILE]";
const Flags = z.object({
  flow: z.string().default(path.join("models", "default", "lab", "flow")),
  data: z.string().default(path.join("data", "datasets", "emoji")),
  split: z.enum(SPLITS).default("test"),
  seed: z.coerce.number().int().min(0).default(1),
  generated: z.string().optional(),
  json: z.string().optional(),
});

/** PNGs of a folder (at the flow's size, RGB) as one shard. */
async function pngFolder(dir: string, size: number): Promise<Shard> {
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.toLowerCase().endsWith(".png"))
    .sort();
  if (!files.length) throw new Error(`${dir}: no .png files`);
  const n = size * size * 3;
  const data = new Uint8Array(files.length * n);
  for (const [i, f] of files.entries()) {
    const { data: px, info } = await sharp(path.join(dir, f)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    if (info.width !== size || info.height !== size)
      throw new Error(`${f} is ${info.width}×${info.height}, the flow scores ${size}×${size}`);
    data.set(px, i * n);
  }
  return { count: files.length, height: size, width: size, channels: 3, data };
}

const summary = (bpd: ArrayLike<number>, threshold: number | null) => ({
  meanBitsPerDim: mean(bpd),
  medianBitsPerDim: quantile(bpd, 0.5),
  flagged: threshold === null ? null : Array.from(bpd).filter((v) => v > threshold).length / bpd.length,
});

runMain("eval:flow", async () => {
  const flags = parseFlags(process.argv.slice(2), Flags, USAGE);
  if (!fs.existsSync(path.join(flags.flow, "manifest.json")))
    throw new Error(`${flags.flow}: no manifest.json (export one with npm run train:lab -- --model flow --export DIR)\n${USAGE}`);
  const backend = await initBackend();
  const { model, manifest } = RealNVP.load(flags.flow);
  try {
    const size = model.config.imageSize;
    const data = readManifest(flags.data);
    const real = loadSplit(flags.data, flags.split, size, data);
    const shuffled = shufflePixels(real, flags.seed);
    const threshold = typeof manifest.metrics.typicalThreshold === "number" ? manifest.metrics.typicalThreshold : null;
    const started = performance.now();
    // Scored as the app scores (one shared dequantisation draw, the app's seed): the manifest's threshold applies.
    const [realBpd, shuffledBpd] = [await shardBitsPerDim(model, real), await shardBitsPerDim(model, shuffled)];
    const seconds = (performance.now() - started) / 1000;
    const train = loadSplit(flags.data, "train", size, data);
    const gaussian = fitDiagonalGaussian(train.data, train.count, imageBytes(train));
    const [gReal, gShuffled] = [
      diagonalGaussianBitsPerDim(gaussian, real.data, real.count),
      diagonalGaussianBitsPerDim(gaussian, shuffled.data, shuffled.count),
    ];
    const generated = flags.generated ? await pngFolder(flags.generated, size) : null;
    const genBpd = generated ? await shardBitsPerDim(model, generated) : null;
    const report = {
      flow: flags.flow,
      split: flags.split,
      images: real.count,
      backend: backend.name,
      steps: manifest.step,
      config: model.config,
      trainedMetrics: manifest.metrics,
      typicalThreshold: threshold,
      realNvp: {
        real: summary(realBpd, threshold),
        shuffled: summary(shuffledBpd, threshold),
        // The target: ≥ 0.99 of (real, shuffled) pairs ranked right.
        pairsRankedRight: pairsRankedRight(realBpd, shuffledBpd),
        pairedRankedRight: pairedRankedRight(realBpd, shuffledBpd),
        ...(genBpd ? { generated: { images: genBpd.length, ...summary(genBpd, threshold) } } : {}),
      },
      baseline: {
        model: "diagonal Gaussian on dequantised pixels, fitted on train",
        real: summary(gReal, null),
        shuffled: summary(gShuffled, null),
        pairsRankedRight: pairsRankedRight(gReal, gShuffled),
        pairedRankedRight: pairedRankedRight(gReal, gShuffled),
      },
      imagesPerSecond: Math.round((2 * real.count) / seconds),
    };
    const out = JSON.stringify(report, null, 2);
    console.log(out);
    if (flags.json) fs.writeFileSync(flags.json, out + "\n");
  } finally {
    model.dispose();
  }
});
