// `npm run eval:lab -- [--model models/default] [--data data/datasets/emoji] [--samples 512] [--seed 1]
//   [--variation-sources 128] [--vae DIR] [--aae DIR] [--json FILE]`
// The lab's sample-quality table (issue 19, part 4): the VAE against the AAE — the same networks, the KL against
// adversarial prior matching — on prior samples and on val reconstructions, beside real val emoji (the ceiling) and
// samples of the diagonal-Gaussian pixel baseline (the floor), each scored by bits/dim under the Real-NVP, CLIP
// score and label retrieval (training/lab/sample-quality.ts). Needs the model folder's clip/ and lab/flow/; a lab
// model the folder lacks is left out of the table. Then whether variations keep their source's label family
// (training/lab/variation-family.ts), the detail page's promise. Prints the table and writes JSON (default
// <model>/lab/eval-lab.json).
import fs from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { z } from "zod";
import { sequentialBatches } from "../lib/data/batches";
import { loadSplit, readCaptions, readManifest } from "../lib/data/manifest";
import type { Shard } from "../lib/data/shard";
import { VARIATIONS } from "../lib/generate/vae-edit-params";
import { labDir } from "../lib/lab";
import { AAE } from "../lib/model/aae";
import { Clip } from "../lib/model/clip";
import { RealNVP } from "../lib/model/flow";
import { VAE } from "../lib/model/vae";
import { initBackend } from "../lib/tensor/backend";
import { loadTextTokenizer } from "../lib/text/tokenizer";
import { parseFlags, runMain } from "./cli";
import { embedTexts, ensemble } from "./clip/zero-shot";
import { flatten, labelOf, styleOf } from "./gpt/eval-sets";
import { fitPixelGaussian } from "./lab/pixel-baseline";
import { sampleQuality, shardOf, type QualityJudges, type QualityRow } from "./lab/sample-quality";
import { variationFamily, type VariationFamily } from "./lab/variation-family";

const USAGE =
  "usage: npm run eval:lab -- [--model DIR] [--data DIR] [--samples N] [--seed N] [--variation-sources N] [--vae DIR] [--aae DIR] [--json FILE]";
const Flags = z.object({
  model: z.string().default(path.join("models", "default")),
  data: z.string().default(path.join("data", "datasets", "emoji")),
  samples: z.coerce.number().int().min(16).max(4096).default(512),
  seed: z.coerce.number().int().min(0).default(1),
  /** Val emoji whose variations are read back (4 each, at the detail page's default spread). */
  variationSources: z.coerce.number().int().min(1).max(4096).default(128),
  /** Another VAE folder to score in place of <model>/lab/vae (e.g. an older one, for a before/after row). */
  vae: z.string().optional(),
  /** Another AAE scored in place of the folder's (an adaptive-λ run against the shipped fixed λ, say). */
  aae: z.string().optional(),
  json: z.string().optional(),
});

function need(dir: string, what: string, how: string): string {
  if (!fs.existsSync(path.join(dir, "manifest.json"))) throw new Error(`${dir} has no ${what} (manifest.json): ${how}`);
  return dir;
}

/** The sha256 of a lab model's weights (its manifest's), or null when it has none. */
function vaeWeights(dir: string): string | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8")).weights.sha256 ?? null;
  } catch {
    return null;
  }
}

/** Images [N, S, S, C] tensors → shard, disposing the tensor. */
async function take(t: tf.Tensor4D): Promise<Shard> {
  try {
    return await shardOf(t);
  } finally {
    t.dispose();
  }
}

/** `fn` over the val images in batches, concatenated into one shard (reconstructions). */
async function mapVal(val: Shard, fn: (x: tf.Tensor4D) => tf.Tensor4D, batch = 128): Promise<Shard> {
  const parts: Shard[] = [];
  for (const { images } of sequentialBatches(val, batch)) {
    try {
      parts.push(await take(fn(images)));
    } finally {
      images.dispose();
    }
  }
  const bytes = val.height * val.width * val.channels;
  const data = new Uint8Array(val.count * bytes);
  parts.reduce((at, p) => (data.set(p.data, at), at + p.data.length), 0);
  return { ...val, data };
}

runMain("eval:lab", async () => {
  const flags = parseFlags(process.argv.slice(2), Flags, USAGE);
  const flowDir = need(
    labDir(flags.model, "flow"),
    "Real-NVP",
    "npm run train:lab -- --model flow --export " + labDir(flags.model, "flow"),
  );
  const clipDir = need(path.join(flags.model, "clip"), "CLIP", "npm run train:clip");
  await initBackend();
  const started = performance.now();
  const manifest = readManifest(flags.data);
  const train = loadSplit(flags.data, "train", 32, manifest);
  const val = loadSplit(flags.data, "val", 32, manifest);
  const records = readCaptions(flags.data);
  const trainRecords = records.filter((r) => r.split === "train").sort((a, b) => a.index - b.index);
  const labels = [...new Set(records.map(labelOf))].sort();
  const styles = [...new Set(records.map(styleOf))].sort();

  const { model: flow, manifest: fm } = RealNVP.load(flowDir);
  const { model: clip } = Clip.load(clipDir);
  const tok = await loadTextTokenizer(clipDir);
  const styled = styles.map((s) =>
    embedTexts(
      clip,
      tok,
      labels.map((l) => `${l}, ${s}`),
    ),
  );
  const labelEmbeddings = ensemble(styled);
  tf.dispose(styled);
  const flat = flatten(train); // [M, D]
  const trainT = tf.transpose(flat) as tf.Tensor2D; // [D, M]
  const trainSq = tf.sum(tf.square(flat), 1) as tf.Tensor1D; // [M]
  flat.dispose();
  const judges: QualityJudges = {
    flow,
    threshold: Number(fm.metrics.typicalThreshold),
    clip,
    labelEmbeddings,
    labels,
    trainT,
    trainSq,
    trainRecords,
  };

  const rows: Record<string, QualityRow> = {};
  const variations: Record<string, VariationFamily> = {};
  const add = async (name: string, shard: Shard) => {
    rows[name] = await sampleQuality(judges, shard);
    const r = rows[name];
    console.log(
      `${name.padEnd(28)} ${r.bitsPerDim.toFixed(2).padStart(6)} bits/dim  ${(100 * r.atypical).toFixed(1).padStart(5)} % flagged  CLIP ${r.clipScore.toFixed(1)}  ` +
        `labels agree ${(100 * r.labelRetrieval.exact1).toFixed(1)} % exact@1, ${(100 * r.labelRetrieval.family5).toFixed(1)} % family@5`,
    );
  };
  try {
    await add("real val emoji", val);
    const g = fitPixelGaussian(train, -20);
    const n = flags.samples;
    const gauss = tf.tidy(() => {
      const m = tf.tensor4d(g.mean, [1, 32, 32, 3]);
      const sd = tf.exp(tf.mul(0.5, tf.tensor4d(g.logVar, [1, 32, 32, 3])));
      return tf.add(m, tf.mul(sd, tf.randomNormal([n, 32, 32, 3], 0, 1, "float32", flags.seed))) as tf.Tensor4D;
    });
    await add("pixel Gaussian samples", await take(gauss));
    for (const kind of ["vae", "aae"] as const) {
      const dir = (kind === "vae" ? flags.vae : flags.aae) ?? labDir(flags.model, kind);
      if (!fs.existsSync(path.join(dir, "manifest.json"))) {
        console.log(`${kind}: not trained (${dir}), left out`);
        continue;
      }
      const vae = kind === "vae" ? VAE.load(dir).model : AAE.load(dir).model;
      const net = vae instanceof AAE ? vae.vae : vae;
      try {
        await add(`${kind.toUpperCase()} prior samples`, await take(net.sample(n, flags.seed)));
        await add(`${kind.toUpperCase()} val reconstructions`, await mapVal(val, (x) => net.reconstruct(x)));
        const v = await variationFamily(net, val, judges, {
          sources: flags.variationSources,
          k: 4,
          scale: VARIATIONS.scaleDefault,
          seed: flags.seed,
        });
        variations[kind.toUpperCase()] = v;
        console.log(
          `${kind.toUpperCase()} variations (${v.sources} val emoji × ${v.k}) keep the source's label family: ` +
            `${(100 * v.keepsFamilyPixels).toFixed(1)} % by nearest training image, ${(100 * v.keepsFamilyClip).toFixed(1)} % by CLIP`,
        );
      } finally {
        vae.dispose();
      }
    }
  } finally {
    tf.dispose([labelEmbeddings, trainT, trainSq]);
    flow.dispose();
    clip.dispose();
  }
  const vaeDir = flags.vae ?? labDir(flags.model, "vae");
  // Another VAE's numbers go beside it, not over the model's own table.
  const other = flags.vae ?? flags.aae;
  const out = flags.json ?? path.join(other ?? path.join(flags.model, "lab"), "eval-lab.json");
  const result = {
    model: flags.model,
    samples: flags.samples,
    seed: flags.seed,
    labels: labels.length,
    vae: vaeDir,
    aae: flags.aae ?? labDir(flags.model, "aae"),
    // The gate of the detail page's VAE tools (lib/generate/vae-edit.ts) trusts these numbers for these weights only.
    vaeWeights: vaeWeights(vaeDir),
    rows,
    variations,
    seconds: (performance.now() - started) / 1000,
  };
  fs.writeFileSync(out, JSON.stringify(result, null, 2) + "\n");
  console.log(JSON.stringify(result));
  console.log(`wrote ${out}`);
});
