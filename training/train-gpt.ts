// `npm run train:gpt -- [--image-tokenizer models/image-tokenizer] [--minutes M | --steps N] [--out runs/gpt]
//   [--resume] [--export models/default]`
// Trains the text→image-token transformer on the emoji corpus: BPE text tokenizer on the train captions, image
// codes computed once with the image tokenizer and cached, then the GPT. --export writes a servable model folder:
// the transformer (float16) + tokenizer.json + the image tokenizer beside it.
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { captionsFor, loadSplit, readCaptions, readManifest, type Split } from "../lib/data/manifest";
import { sha256 } from "../lib/data/shard";
import { saveCheckpoint } from "../lib/model/checkpoint";
import { DEFAULT_TRANSFORMER_CONFIG, type TransformerConfig } from "../lib/model/transformer-config";
import { VQModel } from "../lib/model/vq-model";
import { initBackend } from "../lib/tensor/backend";
import { registerFastGradients } from "../lib/tensor/gradients";
import { loadTextTokenizer, type TextTokenizer } from "../lib/text/tokenizer";
import { flag, parseFlags, runMain } from "./cli";
import { cachedCodes, codesKey, encodeShard } from "./gpt/codes";
import { trainGpt, type GptData } from "./gpt/trainer";
import { trainTextTokenizer } from "./train-text-tokenizer";
import { sheetPrompts, writeSampleSheet } from "./gpt/sample-sheet";

/** Named presets live here, not in the model code. */
const PRESETS: Record<string, Partial<TransformerConfig>> = {
  // A run on this machine sees the corpus about once or twice: too little to overfit, so no dropout.
  default: { dropout: 0 },
  tiny: { nLayer: 2, nHead: 2, nEmbd: 64, dropout: 0 },
};

const USAGE = "usage: npm run train:gpt -- [--image-tokenizer DIR] [--minutes M | --steps N] [--batch-size N] [--out DIR] [--resume] [--export DIR] [--preset default|tiny]";
const Flags = z.object({
  imageTokenizer: z.string().default(path.join("models", "image-tokenizer")),
  data: z.string().default(path.join("data", "datasets", "emoji")),
  preset: z.enum(["default", "tiny"]).default("default"),
  textLen: z.coerce.number().int().min(2).max(256).default(DEFAULT_TRANSFORMER_CONFIG.textLen),
  batchSize: z.coerce.number().int().min(1).max(512).default(32),
  steps: z.coerce.number().int().positive().default(1_000_000),
  minutes: z.coerce.number().positive().max(24 * 60).optional(),
  lr: z.coerce.number().positive().max(1).default(1e-3),
  warmup: z.coerce.number().int().min(0).default(100),
  weightDecay: z.coerce.number().min(0).default(0.01),
  clip: z.coerce.number().positive().default(1),
  captionDropout: z.coerce.number().min(0).max(1).default(0.1),
  checkpointEvery: z.coerce.number().int().positive().default(200),
  valEvery: z.coerce.number().int().positive().default(50),
  seed: z.coerce.number().int().min(0).default(1),
  out: z.string().default(path.join("runs", "gpt")),
  resume: flag(),
  export: z.string().optional(),
});

function tokenise(tok: TextTokenizer, captions: string[], textLen: number): { ids: Int32Array; truncated: number } {
  const ids = new Int32Array(captions.length * textLen);
  let truncated = 0;
  captions.forEach((caption, i) => {
    const e = tok.encode(caption, textLen);
    if (e.truncated) truncated++;
    ids.set(e.ids, i * textLen);
  });
  return { ids, truncated };
}

runMain("train:gpt", async () => {
  const flags = parseFlags(process.argv.slice(2), Flags, USAGE);
  if (flags.minutes === undefined && flags.steps === 1_000_000) throw new Error(`give a budget: --minutes M or --steps N\n${USAGE}`);
  const backend = await initBackend();
  registerFastGradients();
  const { model: vq } = VQModel.load(flags.imageTokenizer);
  const manifest = readManifest(flags.data);
  const records = readCaptions(flags.data);
  const captions = (split: Split) => captionsFor(records, split).map((r) => r.caption);

  const textDir = path.join(flags.out, "text-tokenizer");
  if (!fs.existsSync(path.join(textDir, "tokenizer.json"))) await trainTextTokenizer(captions("train"), textDir);
  const tok = await loadTextTokenizer(textDir);

  const key = codesKey(flags.imageTokenizer, flags.data);
  const cacheDir = path.join("data", "codes");
  const data = {} as Record<"train" | "val", GptData>;
  for (const split of ["train", "val"] as const) {
    const shard = loadSplit(flags.data, split, vq.config.imageSize, manifest);
    const codes = cachedCodes(cacheDir, key, split, () => encodeShard(vq, shard, split));
    const { ids, truncated } = tokenise(tok, captions(split), flags.textLen);
    if (truncated) console.warn(`${split}: ${truncated} captions longer than ${flags.textLen} tokens were truncated`);
    data[split] = { count: shard.count, text: ids, codes };
  }
  const config: TransformerConfig = {
    ...DEFAULT_TRANSFORMER_CONFIG,
    ...PRESETS[flags.preset],
    textVocab: tok.vocabSize,
    textLen: flags.textLen,
    padId: tok.padId,
    imageVocab: vq.config.codebookSize,
    imageGrid: vq.grid,
  };
  const prompts = sheetPrompts(captions("val"));
  console.log(`training the transformer (${flags.preset}) on ${data.train.count} pairs, backend ${backend.name}, text vocab ${tok.vocabSize}; checkpoints in ${flags.out}`);
  const result = await trainGpt({
    config,
    train: data.train,
    val: data.val,
    nullText: tok.encodeNull(flags.textLen),
    outDir: flags.out,
    batchSize: flags.batchSize,
    steps: flags.steps,
    minutes: flags.minutes ?? 0,
    seed: flags.seed,
    lr: { peak: flags.lr, warmupSteps: flags.warmup, floor: 0.1 },
    weightDecay: flags.weightDecay,
    clipNorm: flags.clip,
    captionDropout: flags.captionDropout,
    checkpointEvery: flags.checkpointEvery,
    valEvery: flags.valEvery,
    resume: flags.resume,
    dataHash: sha256(fs.readFileSync(path.join(flags.data, "manifest.json"))),
    sampleSheet: (gpt, file) => writeSampleSheet(gpt, vq, tok, prompts, file),
  });
  console.log(JSON.stringify({ steps: result.step, tokensPerSecond: Math.round(result.tokensPerSecond), valImageNats: +result.val.imageNats.toFixed(4), valImageBits: +result.val.imageBits.toFixed(4) }));
  if (flags.export) {
    const metrics = { steps: result.step, valImageNats: result.val.imageNats, valImageBits: result.val.imageBits, valTextNats: result.val.textNats, tokensPerSecond: result.tokensPerSecond };
    await saveCheckpoint(flags.export, result.model.params.all(), { kind: "transformer", config, metrics, step: result.step, dtype: "float16", extra: { imageTokenizer: "image-tokenizer", textTokenizer: "." } });
    for (const f of fs.readdirSync(textDir)) fs.copyFileSync(path.join(textDir, f), path.join(flags.export, f));
    fs.cpSync(flags.imageTokenizer, path.join(flags.export, "image-tokenizer"), { recursive: true });
    const sheets = fs.readdirSync(flags.out).filter((f) => /^samples-\d+\.png$/.test(f)).sort();
    if (sheets.length) fs.copyFileSync(path.join(flags.out, sheets[sheets.length - 1]), path.join(flags.export, "samples.png"));
    console.log(`exported a servable model folder → ${flags.export}`);
  }
  result.model.dispose();
  vq.dispose();
});
