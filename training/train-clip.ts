// `npm run train:clip -- [--text-tokenizer models/default] [--preset default|tiny|small|large] [--minutes M | --steps N]
//   [--out runs/clip] [--resume] [--warm-start DIR] [--workers auto] [--export DIR]`
// Trains CLIP (lib/model/clip.ts; Radford et al. 2021) on the emoji train split: (image, caption) pairs with caption
// variants and small random shifts, balanced over (label family, style), on the shared training loop (both cores:
// ONNX Runtime threads by default, tfjs replicas with --engine tfjs; resumable). Captions are read with the text tokenizer of the transformer CLIP will serve beside
// (--text-tokenizer, a model folder holding tokenizer.json): reranking feeds CLIP the same ids the transformer
// reads. --export writes a CLIP model folder (./clip/export.ts, as the retrain pipeline's CLIP stage does):
// manifest.json (config, trainer and task hyper-parameters, data hash, the tokenizer's sha256), weights.bin
// (float16), the tokenizer files and the training log. The pairs come from ./clip/data.ts. On the shapes data
// (--data data/datasets/shapes, --text-tokenizer models/shapes/clip), --hard-negatives K adds K captions per scene
// one colour or shape away from its own, read as extra wrong texts (training/shapes/hard-negatives.ts); on the emoji
// data, K captions of near labels in the record's style — other skin tones, labels one word away
// (training/clip/label-negatives.ts).
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { datasetHash } from "../lib/data/manifest";
import { mulberry32 } from "../lib/data/rng";
import type { Scene } from "../lib/data/shapes/caption";
import { sha256 } from "../lib/data/shard";
import { readCheckpointManifest } from "../lib/model/checkpoint";
import { CLIP_KIND } from "../lib/model/clip";
import { VQModel } from "../lib/model/vq-model";
import { DEFAULT_CLIP_CONFIG, type ClipConfig } from "../lib/model/clip-config";
import { initBackend } from "../lib/tensor/backend";
import { registerFastGradients } from "../lib/tensor/gradients";
import { loadTextTokenizer, tokeniseCaptions } from "../lib/text/tokenizer";
import { parseFlags, runMain } from "./cli";
import { clipSplits } from "./clip/data";
import { cachedBytes, decodedImages } from "./clip/decoded-images";
import { CLIP_TOKENIZER_FILES, exportClip } from "./clip/export";
import { labelNegativeCaptions } from "./clip/label-negatives";
import { CLIP_PRESETS as PRESETS, DEFAULT_CLIP_SHIFT } from "./clip/presets";
import { CLIP_TRAINER_DEFAULTS, clipTaskDefinition, createTask, type ClipTaskOptions } from "./clip/task";
import { codesKey } from "./gpt/codes";
import { hardNegativeCaptions } from "./shapes/hard-negatives";
import { TRAINER_FLAGS_USAGE, trainerConfigFrom, trainerFlags } from "./loop/config";
import { shared } from "./loop/task";
import { train } from "./loop/trainer";

/** A boolean flag that is on unless `--name false`. */
const onByDefault = () => z.union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")]).default(true);

const USAGE = `usage: npm run train:clip -- [--text-tokenizer DIR] [--data DIR] [--preset ${Object.keys(PRESETS).join("|")}] [--text-len N] [--embed-dim D] [--shift PX] [--augment true|false] [--balance true|false] [--hard-negatives K] [--decoded-share P [--image-tokenizer DIR]] [--out DIR] [--export DIR] ${TRAINER_FLAGS_USAGE}`;
const Flags = z.object({
  textTokenizer: z.string().default(path.join("models", "default")),
  data: z.string().default(path.join("data", "datasets", "emoji")),
  preset: z.enum(Object.keys(PRESETS) as [keyof typeof PRESETS, ...(keyof typeof PRESETS)[]]).default("default"),
  textLen: z.coerce.number().int().min(2).max(256).default(DEFAULT_CLIP_CONFIG.textLen),
  embedDim: z.coerce.number().int().min(2).max(1024).optional(),
  /** Random translation of each training image by up to this many pixels per axis. */
  shift: z.coerce.number().int().min(0).max(8).default(DEFAULT_CLIP_SHIFT),
  /** Caption variants (label only; keywords with and without style) beside "<label>, <style>". */
  augment: onByDefault(),
  /** Sample each (label family, style) equally often instead of each image. */
  balance: onByDefault(),
  /**
   * This many wrong captions per record near its own — shapes: one colour or shape away (training/shapes/hard-negatives.ts);
   * emoji: near labels in its style (training/clip/label-negatives.ts) — one read per row and step as an extra wrong text (0 = none).
   */
  hardNegatives: z.coerce.number().int().min(0).max(16).default(0),
  /** Share of rows that read the image tokenizer's reconstruction of their image instead of the image (training/clip/decoded-images.ts). */
  decodedShare: z.coerce.number().min(0).max(1).default(0),
  /** The tokenizer whose reconstructions --decoded-share reads (default: <text-tokenizer>/image-tokenizer, the one serving decodes with). */
  imageTokenizer: z.string().optional(),
  out: z.string().default(path.join("runs", "clip")),
  export: z.string().optional(),
  ...trainerFlags(CLIP_TRAINER_DEFAULTS),
});

const fileHash = (dir: string) => sha256(fs.readFileSync(path.join(dir, "tokenizer.json")));

/**
 * The run's own copy of the text tokenizer (<out>/text-tokenizer): made on the first run, checked on every later
 * one, so a resumed or warm-started run reads captions with the ids its weights were trained on.
 */
function pinTokenizer(source: string, out: string, warmStart: string | null): { dir: string; sha256: string } {
  for (const f of CLIP_TOKENIZER_FILES)
    if (!fs.existsSync(path.join(source, f)))
      throw new Error(`--text-tokenizer ${source} has no ${f} (give a model folder, e.g. models/default)`);
  const want = fileHash(source);
  const dir = path.join(out, "text-tokenizer");
  if (fs.existsSync(path.join(dir, "tokenizer.json"))) {
    if (fileHash(dir) !== want)
      throw new Error(`${out} was started with another text tokenizer than ${source} (its copy is ${dir}); use another --out`);
  } else {
    fs.mkdirSync(dir, { recursive: true });
    for (const f of CLIP_TOKENIZER_FILES) fs.copyFileSync(path.join(source, f), path.join(dir, f));
  }
  if (warmStart) {
    const m = readCheckpointManifest(warmStart);
    if (m.kind !== CLIP_KIND) throw new Error(`--warm-start ${warmStart} holds a "${m.kind}" checkpoint, not a CLIP`);
    const theirs = m.extra.textTokenizerSha256 ?? (m.extra.hyper as Record<string, unknown> | undefined)?.textTokenizerSha256;
    if (theirs !== want) throw new Error(`--warm-start ${warmStart} was trained with another text tokenizer than ${source}`);
  }
  return { dir, sha256: want };
}

runMain("train:clip", async () => {
  const flags = parseFlags(process.argv.slice(2), Flags, USAGE);
  if (flags.minutes === 0 && flags.steps === CLIP_TRAINER_DEFAULTS.steps)
    throw new Error(`give a budget: --minutes M or --steps N\n${USAGE}`);
  if (flags.imageTokenizer && flags.decodedShare === 0)
    throw new Error(`--image-tokenizer names the tokenizer whose pictures --decoded-share P mixes in: give --decoded-share too\n${USAGE}`);
  const pinned = pinTokenizer(flags.textTokenizer, flags.out, flags.warmStart);
  const backend = await initBackend();
  registerFastGradients();
  const tok = await loadTextTokenizer(pinned.dir);
  const config: ClipConfig = {
    ...DEFAULT_CLIP_CONFIG,
    ...PRESETS[flags.preset],
    ...(flags.embedDim !== undefined ? { embedDim: flags.embedDim } : {}),
    textVocab: tok.vocabSize,
    textLen: flags.textLen,
    padId: tok.padId,
  };

  const notes: Record<string, unknown> = {
    textTokenizerSha256: pinned.sha256,
    textTokenizerSource: flags.textTokenizer,
    preset: flags.preset,
  };
  const { data, trainRecords } = clipSplits(flags.data, tok, config, { augment: flags.augment, balance: flags.balance }, console.warn);
  if (flags.hardNegatives > 0) {
    const rand = mulberry32(flags.seed ^ 0x6e67);
    // Shapes records carry their scene (negatives one colour or shape away); emoji records their label (negatives
    // from near labels in the same style: training/clip/label-negatives.ts).
    const scenes = trainRecords.every((r) => r.meta.scene && typeof r.meta.scene === "object");
    let captions: string[];
    if (scenes) captions = trainRecords.flatMap((r) => hardNegativeCaptions(r.meta.scene as Scene, rand, flags.hardNegatives));
    else {
      if (!trainRecords.every((r) => typeof r.meta.label === "string"))
        throw new Error(
          `--hard-negatives needs captions with a scene (shapes) or a label (emoji) for every record; ${flags.data} has neither for some`,
        );
      const drawn = labelNegativeCaptions(trainRecords, rand, flags.hardNegatives);
      console.log(
        `train: hard negatives from near labels for ${drawn.withNear} of ${trainRecords.length} records (the rest: other captions in their style)`,
      );
      captions = drawn.captions;
    }
    const negatives = tokeniseCaptions(tok, captions, config.textLen);
    if (negatives.truncated) console.warn(`train: ${negatives.truncated} hard negatives were truncated to ${config.textLen} tokens`);
    Object.assign(data.train, { negatives: shared(negatives.ids), negativesPerItem: flags.hardNegatives });
  }

  if (flags.decodedShare > 0) {
    const dir = flags.imageTokenizer ?? path.join(flags.textTokenizer, "image-tokenizer");
    if (!fs.existsSync(path.join(dir, "manifest.json")))
      throw new Error(`--decoded-share needs an image tokenizer: ${dir} has no manifest.json (give --image-tokenizer DIR)`);
    const { model: vq, manifest: vqManifest } = VQModel.load(dir);
    try {
      if (vq.config.imageSize !== config.imageSize || vq.config.channels !== config.channels)
        throw new Error(
          `--image-tokenizer ${dir} draws ${vq.config.imageSize}×${vq.config.imageSize}×${vq.config.channels} images, CLIP reads ${config.imageSize}×${config.imageSize}×${config.channels}`,
        );
      const t0 = Date.now();
      // Cached per (tokenizer, dataset) beside the transformer's codes (training/gpt/codes.ts's key).
      const file = path.join("data", "decoded", codesKey(dir, flags.data), `train-${config.imageSize}.u8`);
      const decoded = await cachedBytes(file, data.train.images.length, () =>
        decodedImages(vq, data.train.images, data.train.count, { size: config.imageSize, channels: config.channels }),
      );
      console.log(
        `train: ${data.train.count} images decoded by ${dir} in ${((Date.now() - t0) / 1000).toFixed(1)} s; ${flags.decodedShare} of rows read them`,
      );
      Object.assign(data.train, { decoded: shared(decoded), decodedShare: flags.decodedShare });
      Object.assign(notes, { imageTokenizer: dir, imageTokenizerSha256: vqManifest.weights.sha256 });
    } finally {
      vq.dispose();
    }
  }

  const options: ClipTaskOptions = {
    config,
    seed: flags.seed,
    train: data.train,
    val: data.val,
    shift: flags.shift,
    notes,
  };
  const trainer = trainerConfigFrom(CLIP_TRAINER_DEFAULTS, flags);
  const dataHash = datasetHash(flags.data);
  console.log(
    `training CLIP (${flags.preset}) on ${data.train.count} pairs, backend ${backend.name}, text vocab ${tok.vocabSize} from ${flags.textTokenizer}; checkpoints in ${flags.out}`,
  );
  const task = await createTask(options, "main");
  try {
    const r = await train(task, trainer, { outDir: flags.out, dataHash, definition: clipTaskDefinition(options), backend: backend.name });
    console.log(JSON.stringify({ steps: r.step, workers: r.workers, imagesPerSecond: Math.round(r.itemsPerSecond), ...r.metrics }));
    if (flags.export) {
      await exportClip(flags.export, {
        params: task.params.all(),
        config,
        result: r,
        dataHash,
        trainer,
        hyper: task.hyper,
        tokenizerDir: pinned.dir,
        tokenizerSha256: pinned.sha256,
        runDir: flags.out,
      });
      console.log(`exported CLIP → ${flags.export}`);
    }
  } finally {
    task.dispose();
  }
});
