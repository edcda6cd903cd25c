// `npm run train:gpt -- [--image-tokenizer models/image-tokenizer] [--minutes M | --steps N] [--out runs/gpt]
//   [--resume] [--warm-start models/default] [--workers auto] [--export models/default]`
// Trains the text→image-token transformer on the emoji corpus: BPE text tokenizer on the train captions, image
// codes computed once with the image tokenizer and cached, then the GPT on the shared training loop (both cores,
// data-parallel). --export writes a servable model folder: the transformer (float16) + tokenizer.json + the image
// tokenizer beside it.
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { captionsFor, datasetHash, loadSplit, readCaptions, readManifest, type Split } from "../lib/data/manifest";
import { saveCheckpoint } from "../lib/model/checkpoint";
import { DEFAULT_TRANSFORMER_CONFIG, type TransformerConfig } from "../lib/model/transformer-config";
import { VQModel } from "../lib/model/vq-model";
import { initBackend } from "../lib/tensor/backend";
import { registerFastGradients } from "../lib/tensor/gradients";
import { loadTextTokenizer, tokeniseCaptions } from "../lib/text/tokenizer";
import { parseFlags, runMain } from "./cli";
import { cachedCodes, codesKey, encodeShard } from "./gpt/codes";
import { sheetPrompts } from "./gpt/sample-sheet";
import { createTask, GPT_TRAINER_DEFAULTS, gptTaskDefinition, type GptData, type GptTaskOptions } from "./gpt/task";
import { TRAINER_FLAGS_USAGE, trainerConfigFrom, trainerFlags } from "./loop/config";
import { shared } from "./loop/task";
import { train } from "./loop/trainer";
import { addSeenWords, trainTextTokenizer } from "./train-text-tokenizer";
import { balancedWeights, captionVariants, labelFamilies, VARIANT_PROBS } from "./gpt/augment";

/** Named presets live here, not in the model code. */
const PRESETS = {
  default: { dropout: 0 },
  tiny: { nLayer: 2, nHead: 2, nEmbd: 64, dropout: 0 },
  // The size sweep's candidates (issue 15: pick the size by short runs at a fixed wall-clock budget).
  small: { nLayer: 3, nHead: 4, nEmbd: 192, dropout: 0 },
  deep: { nLayer: 6, nHead: 4, nEmbd: 256, dropout: 0 },
  // Issue 29's compute sweep on the native engine adds two larger ones (head size 64).
  medium: { nLayer: 6, nHead: 6, nEmbd: 384, dropout: 0 },
  large: { nLayer: 8, nHead: 8, nEmbd: 512, dropout: 0 },
} satisfies Record<string, Partial<TransformerConfig>>;

const USAGE = `usage: npm run train:gpt -- [--image-tokenizer DIR] [--preset default|tiny|small|deep|medium|large] [--dropout P] [--caption-dropout P] [--augment true|false] [--balance true|false] [--out DIR] [--export DIR] [--keep-every N] ${TRAINER_FLAGS_USAGE}`;
const Flags = z.object({
  imageTokenizer: z.string().default(path.join("models", "image-tokenizer")),
  data: z.string().default(path.join("data", "datasets", "emoji")),
  preset: z.enum(Object.keys(PRESETS) as [keyof typeof PRESETS, ...(keyof typeof PRESETS)[]]).default("default"),
  textLen: z.coerce.number().int().min(2).max(256).default(DEFAULT_TRANSFORMER_CONFIG.textLen),
  dropout: z.coerce.number().min(0).max(0.9).optional(),
  captionDropout: z.coerce.number().min(0).max(1).default(0.1),
  /** Caption variants (label only; keywords + style) beside "<label>, <style>" (training/gpt/augment.ts). */
  augment: z
    .enum(["true", "false"])
    .default("true")
    .transform((v) => v === "true"),
  /** Sample each (label family, style) equally often instead of each image. */
  balance: z
    .enum(["true", "false"])
    .default("true")
    .transform((v) => v === "true"),
  out: z.string().default(path.join("runs", "gpt")),
  export: z.string().optional(),
  /**
   * Every N steps (a multiple of --checkpoint-every), the checkpoint also as a servable folder <out>/kept/step-N, so
   * that the eval can pick the step to ship when the curve says the model memorises (issue 29). 0: off.
   */
  keepEvery: z.coerce.number().int().min(0).default(0),
  ...trainerFlags(GPT_TRAINER_DEFAULTS),
});

runMain("train:gpt", async () => {
  const flags = parseFlags(process.argv.slice(2), Flags, USAGE);
  if (flags.minutes === 0 && flags.steps === GPT_TRAINER_DEFAULTS.steps)
    throw new Error(`give a budget: --minutes M or --steps N\n${USAGE}`);
  const trainer = trainerConfigFrom(GPT_TRAINER_DEFAULTS, flags);
  // Checked before the data and tokenizer are prepared, so that a bad flag costs nothing.
  if (flags.keepEvery % trainer.checkpointEvery !== 0)
    throw new Error(`--keep-every ${flags.keepEvery} must be a multiple of --checkpoint-every (${trainer.checkpointEvery})\n${USAGE}`);
  const backend = await initBackend();
  registerFastGradients();
  const { model: vq } = VQModel.load(flags.imageTokenizer);
  const manifest = readManifest(flags.data);
  const records = readCaptions(flags.data);
  const captions = (split: Split) => captionsFor(records, split).map((r) => r.caption);

  const trainRecords = captionsFor(records, "train");
  const names = labelFamilies(trainRecords);
  const variants = flags.augment ? trainRecords.map((r) => captionVariants(r, names)) : null;
  const textDir = path.join(flags.out, "text-tokenizer");
  if (!fs.existsSync(path.join(textDir, "tokenizer.json")) && flags.warmStart) {
    // A warm start must read text with the tokenizer its weights were trained on (same ids), not a new one.
    fs.mkdirSync(textDir, { recursive: true });
    for (const f of ["tokenizer.json", "tokenizer_config.json", "text-vocab.json"])
      fs.copyFileSync(path.join(flags.warmStart, f), path.join(textDir, f));
  }
  if (!fs.existsSync(path.join(textDir, "tokenizer.json")))
    await trainTextTokenizer(variants ? variants.flat() : captions("train"), textDir);
  else if (variants) addSeenWords(textDir, await loadTextTokenizer(textDir), variants.flat());
  const tok = await loadTextTokenizer(textDir);

  const key = codesKey(flags.imageTokenizer, flags.data);
  const data = {} as Record<"train" | "val", GptData>;
  for (const split of ["train", "val"] as const) {
    const shard = loadSplit(flags.data, split, vq.config.imageSize, manifest);
    const codes = cachedCodes(path.join("data", "codes"), key, split, () => encodeShard(vq, shard, split));
    const { ids, truncated } = tokeniseCaptions(tok, captions(split), flags.textLen);
    if (truncated) console.warn(`${split}: ${truncated} captions longer than ${flags.textLen} tokens were truncated`);
    data[split] = { count: shard.count, text: shared(ids), codes: shared(codes) };
  }
  if (variants)
    Object.assign(data.train, { variants: shared(tokeniseCaptions(tok, variants.flat(), flags.textLen).ids), variantProbs: VARIANT_PROBS });
  if (flags.balance) data.train.weights = balancedWeights(trainRecords);
  const config: TransformerConfig = {
    ...DEFAULT_TRANSFORMER_CONFIG,
    ...PRESETS[flags.preset],
    ...(flags.dropout !== undefined ? { dropout: flags.dropout } : {}),
    textVocab: tok.vocabSize,
    textLen: flags.textLen,
    padId: tok.padId,
    imageVocab: vq.config.codebookSize,
    imageGrid: vq.grid,
  };
  vq.dispose();
  const options: GptTaskOptions = {
    config,
    seed: flags.seed,
    captionDropout: flags.captionDropout,
    train: data.train,
    val: data.val,
    nullText: tok.encodeNull(flags.textLen),
    sheet: { imageTokenizer: flags.imageTokenizer, textTokenizer: textDir, prompts: sheetPrompts(captions("val")) },
  };
  const dataHash = datasetHash(flags.data);
  console.log(
    `training the transformer (${flags.preset}) on ${data.train.count} pairs, backend ${backend.name}, text vocab ${tok.vocabSize}; checkpoints in ${flags.out}`,
  );
  const task = await createTask(options, "main");
  /** A servable folder: the transformer (float16), its text tokenizer, the image tokenizer and the run's log. */
  const exportTo = async (dir: string, step: number, metrics: Record<string, number | string>) => {
    await saveCheckpoint(dir, task.params.all(), {
      kind: "transformer",
      config,
      metrics,
      dataHash,
      step,
      dtype: "float16",
      extra: { imageTokenizer: "image-tokenizer", textTokenizer: ".", trainer, hyper: task.hyper },
    });
    for (const f of fs.readdirSync(textDir)) fs.copyFileSync(path.join(textDir, f), path.join(dir, f));
    fs.rmSync(path.join(dir, "image-tokenizer"), { recursive: true, force: true });
    fs.cpSync(flags.imageTokenizer, path.join(dir, "image-tokenizer"), { recursive: true });
    const sheets = fs
      .readdirSync(flags.out)
      .filter((f) => /^sheet-\d+\.png$/.test(f))
      .sort();
    if (sheets.length) fs.copyFileSync(path.join(flags.out, sheets[sheets.length - 1]), path.join(dir, "samples.png"));
    fs.copyFileSync(path.join(flags.out, "log.jsonl"), path.join(dir, "log.jsonl"));
  };
  const keep = async (step: number, metrics: Record<string, number>) => {
    if (flags.keepEvery > 0 && step % flags.keepEvery === 0)
      await exportTo(path.join(flags.out, "kept", `step-${String(step).padStart(6, "0")}`), step, { steps: step, ...metrics });
  };
  try {
    const r = await train(task, trainer, {
      outDir: flags.out,
      dataHash,
      definition: gptTaskDefinition(options),
      backend: backend.name,
      onCheckpoint: keep,
    });
    console.log(
      JSON.stringify({ steps: r.step, engine: r.engine, workers: r.workers, tokensPerSecond: Math.round(r.unitsPerSecond), ...r.metrics }),
    );
    if (flags.export) {
      await exportTo(flags.export, r.step, { steps: r.step, ...r.metrics, tokensPerSecond: r.unitsPerSecond, engine: r.engine });
      console.log(`exported a servable model folder → ${flags.export}`);
    }
  } finally {
    task.dispose();
  }
});
