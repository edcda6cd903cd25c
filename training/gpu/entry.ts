// The program inside the GPU bundle (`npm run gpu:bundle`): trains the image tokenizer or the transformer from the
// bundled data on the chosen backend, for a time budget, and writes checkpoints and a throughput JSON to --out.
// Everything it needs travels in the bundle: the device has no Node.js install and no network.
import fs from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { z } from "zod";
import { loadSplit, readManifest } from "../../lib/data/manifest";
import { saveCheckpoint } from "../../lib/model/checkpoint";
import type { ParamStore } from "../../lib/model/params";
import { DEFAULT_TRANSFORMER_CONFIG, type TransformerConfig } from "../../lib/model/transformer-config";
import { DEFAULT_VQ_CONFIG, type VQConfig } from "../../lib/model/vq-config";
import { initBackend } from "../../lib/tensor/backend";
import { registerFastGradients } from "../../lib/tensor/gradients";
import { matmulGflops } from "../bench/models";
import { flag, parseFlags, runMain } from "../cli";
import { createTask as createGptTask, GPT_TRAINER_DEFAULTS, gptTaskDefinition, type GptTaskOptions } from "../gpt/task";
import type { TrainerConfig } from "../loop/config";
import { train } from "../loop/trainer";
import { createTask as createVqTask, DVAE_SCHEDULE, VQ_TRAINER_DEFAULTS, vqTaskDefinition, type VQTaskOptions } from "../vq/task";

const Flags = z.object({
  task: z.enum(["vq", "gpt", "bench"]).default("bench"),
  data: z.string().default("data"),
  out: z.string().default("out"),
  minutes: z.coerce.number().positive().max(60).optional(),
  steps: z.coerce.number().int().positive().default(1_000_000),
  batchSize: z.coerce.number().int().positive().max(4096).optional(),
  /** A bigger model than the wasm default, for the GPU's headroom. */
  large: flag(),
});

/** The device returns files of at most 16 MiB: weights beyond that travel as 15 MiB parts (cat them back). */
const PART_BYTES = 15 * 2 ** 20;

/** Exports the trained model in float16 to `<out>/model`, split for the trip home, and drops the run folders. */
async function exportForReturn(
  out: string,
  runDir: string,
  kind: string,
  config: object,
  params: ParamStore,
  metrics: Record<string, unknown>,
): Promise<void> {
  const dir = path.join(out, "model");
  await saveCheckpoint(dir, params.all(), { kind, config, metrics, dtype: "float16" });
  const weights = path.join(dir, "weights.bin");
  const bytes = fs.readFileSync(weights);
  if (bytes.length > PART_BYTES) {
    for (let i = 0; i * PART_BYTES < bytes.length; i++)
      fs.writeFileSync(`${weights}.part${i}`, bytes.subarray(i * PART_BYTES, (i + 1) * PART_BYTES));
    fs.rmSync(weights);
  }
  fs.rmSync(runDir, { recursive: true, force: true });
}

runMain("gpu", async () => {
  const f = parseFlags(
    process.argv.slice(2),
    Flags,
    "usage: run.sh --task vq|gpt|bench [--minutes M | --steps N] [--batch-size N] [--large] [--out DIR]",
  );
  if (f.task !== "bench" && f.minutes === undefined && f.steps === 1_000_000) throw new Error("give --minutes or --steps");
  const backend = await initBackend();
  registerFastGradients();
  fs.mkdirSync(f.out, { recursive: true });
  const result: Record<string, unknown> = {
    task: f.task,
    backend: backend.name,
    detail: backend.detail,
    matmul1024Gflops: await matmulGflops(1024, 3),
  };
  // One replica: a GPU is one device, and the bundle carries no TypeScript loader for worker threads.
  const trainer = (defaults: TrainerConfig, batchSize: number, checkpointEvery: number, valEvery: number): TrainerConfig => ({
    ...defaults,
    batchSize: f.batchSize ?? batchSize,
    steps: f.steps,
    minutes: f.minutes ?? 0,
    checkpointEvery,
    valEvery,
    workers: 1,
  });
  if (f.task === "vq") {
    const manifest = readManifest(path.join(f.data, "emoji"));
    const config: VQConfig = f.large
      ? { ...DEFAULT_VQ_CONFIG, encoderWidths: [64, 128], decoderWidths: [96, 192], outputWidth: 48, resBlocks: 2 }
      : DEFAULT_VQ_CONFIG;
    const options: VQTaskOptions = {
      config,
      seed: 1,
      train: loadSplit(path.join(f.data, "emoji"), "train", 32, manifest),
      val: loadSplit(path.join(f.data, "emoji"), "val", 32, manifest),
      ...DVAE_SCHEDULE,
    };
    const task = await createVqTask(options, "main");
    const r = await train(task, trainer(VQ_TRAINER_DEFAULTS, 64, 1000, 1000), {
      outDir: path.join(f.out, "vq"),
      dataHash: null,
      definition: vqTaskDefinition(options),
      backend: backend.name,
    });
    Object.assign(result, { steps: r.step, workers: r.workers, imagesPerSecond: r.itemsPerSecond, ...r.metrics });
    await exportForReturn(f.out, path.join(f.out, "vq"), config.kind, config, task.params, { ...r.metrics, steps: r.step });
    task.dispose();
  } else if (f.task === "gpt") {
    // Captions pre-tokenised and image codes pre-computed at bundle time (no tokenizer library or sharp on board).
    const meta = JSON.parse(fs.readFileSync(path.join(f.data, "gpt", "meta.json"), "utf8")) as {
      config: Partial<TransformerConfig>;
      nullText: number[];
      counts: Record<string, number>;
    };
    const read = (split: string) => {
      const text = fs.readFileSync(path.join(f.data, "gpt", `${split}.text.i32`));
      const codes = fs.readFileSync(path.join(f.data, "gpt", `${split}.codes.u16`));
      return {
        count: meta.counts[split],
        text: new Int32Array(new Uint8Array(text).buffer),
        codes: Int32Array.from(new Uint16Array(new Uint8Array(codes).buffer)),
      };
    };
    const config: TransformerConfig = {
      ...DEFAULT_TRANSFORMER_CONFIG,
      ...meta.config,
      dropout: 0,
      ...(f.large ? { nLayer: 8, nHead: 8, nEmbd: 512 } : {}),
    };
    const options: GptTaskOptions = {
      config,
      seed: 1,
      captionDropout: 0.1,
      train: read("train"),
      val: read("val"),
      nullText: meta.nullText,
    };
    const task = await createGptTask(options, "main");
    const r = await train(task, trainer(GPT_TRAINER_DEFAULTS, 32, 500, 100), {
      outDir: path.join(f.out, "gpt"),
      dataHash: null,
      definition: gptTaskDefinition(options),
      backend: backend.name,
    });
    Object.assign(result, { steps: r.step, workers: r.workers, tokensPerSecond: r.unitsPerSecond, ...r.metrics });
    await exportForReturn(f.out, path.join(f.out, "gpt"), "transformer", config, task.params, { ...r.metrics, steps: r.step });
    task.dispose();
  }
  result.numTensors = tf.memory().numTensors;
  fs.writeFileSync(path.join(f.out, `throughput-${f.task}.json`), JSON.stringify(result, null, 2) + "\n");
  console.log(JSON.stringify(result));
});
