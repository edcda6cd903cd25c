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
import { trainGpt } from "../gpt/trainer";
import { trainVQ } from "../vq/trainer";

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
async function exportForReturn(out: string, runDir: string, kind: string, config: object, params: ParamStore, metrics: Record<string, unknown>): Promise<void> {
  const dir = path.join(out, "model");
  await saveCheckpoint(dir, params.all(), { kind, config, metrics, dtype: "float16" });
  const weights = path.join(dir, "weights.bin");
  const bytes = fs.readFileSync(weights);
  if (bytes.length > PART_BYTES) {
    for (let i = 0; i * PART_BYTES < bytes.length; i++) fs.writeFileSync(`${weights}.part${i}`, bytes.subarray(i * PART_BYTES, (i + 1) * PART_BYTES));
    fs.rmSync(weights);
  }
  fs.rmSync(runDir, { recursive: true, force: true });
}

runMain("gpu", async () => {
  const f = parseFlags(process.argv.slice(2), Flags, "usage: run.sh --task vq|gpt|bench [--minutes M | --steps N] [--batch-size N] [--large] [--out DIR]");
  if (f.task !== "bench" && f.minutes === undefined && f.steps === 1_000_000) throw new Error("give --minutes or --steps");
  const backend = await initBackend();
  registerFastGradients();
  fs.mkdirSync(f.out, { recursive: true });
  const result: Record<string, unknown> = { task: f.task, backend: backend.name, detail: backend.detail, matmul1024Gflops: await matmulGflops(1024, 3) };
  if (f.task === "vq") {
    const manifest = readManifest(path.join(f.data, "emoji"));
    const config: VQConfig = f.large ? { ...DEFAULT_VQ_CONFIG, encoderWidths: [64, 128], decoderWidths: [96, 192], outputWidth: 48, resBlocks: 2 } : DEFAULT_VQ_CONFIG;
    const r = await trainVQ({
      config,
      train: loadSplit(path.join(f.data, "emoji"), "train", 32, manifest),
      val: loadSplit(path.join(f.data, "emoji"), "val", 32, manifest),
      outDir: path.join(f.out, "vq"),
      batchSize: f.batchSize ?? 64,
      steps: f.steps,
      minutes: f.minutes ?? 0,
      seed: 1,
      lr: { peak: 2e-3, warmupSteps: 200, floor: 0.05 },
      checkpointEvery: 1000,
      resume: false,
      dataHash: null,
      finalTemperature: 1 / 16,
      klWeight: 5e-4,
    });
    Object.assign(result, { steps: r.step, imagesPerSecond: r.imagesPerSecond, valPsnr: r.val.psnr, valUsage: r.val.usage });
    await exportForReturn(f.out, path.join(f.out, "vq"), config.kind, config, r.model.params, { valPsnr: r.val.psnr, valUsage: r.val.usage, steps: r.step });
    r.model.dispose();
  } else if (f.task === "gpt") {
    // Captions pre-tokenised and image codes pre-computed at bundle time (no tokenizer library or sharp on board).
    const meta = JSON.parse(fs.readFileSync(path.join(f.data, "gpt", "meta.json"), "utf8")) as { config: Partial<TransformerConfig>; nullText: number[]; counts: Record<string, number> };
    const read = (split: string) => {
      const text = fs.readFileSync(path.join(f.data, "gpt", `${split}.text.i32`));
      const codes = fs.readFileSync(path.join(f.data, "gpt", `${split}.codes.u16`));
      return { count: meta.counts[split], text: new Int32Array(new Uint8Array(text).buffer), codes: Int32Array.from(new Uint16Array(new Uint8Array(codes).buffer)) };
    };
    const config: TransformerConfig = { ...DEFAULT_TRANSFORMER_CONFIG, ...meta.config, dropout: 0, ...(f.large ? { nLayer: 8, nHead: 8, nEmbd: 512 } : {}) };
    const r = await trainGpt({ config, train: read("train"), val: read("val"), nullText: meta.nullText, outDir: path.join(f.out, "gpt"), batchSize: f.batchSize ?? 32, steps: f.steps, minutes: f.minutes ?? 0, seed: 1, lr: { peak: 1e-3, warmupSteps: 100, floor: 0.1 }, weightDecay: 0.01, clipNorm: 1, captionDropout: 0.1, checkpointEvery: 500, valEvery: 100, resume: false, dataHash: null });
    Object.assign(result, { steps: r.step, tokensPerSecond: r.tokensPerSecond, valImageNats: r.val.imageNats });
    await exportForReturn(f.out, path.join(f.out, "gpt"), "transformer", config, r.model.params, { valImageNats: r.val.imageNats, valImageBits: r.val.imageBits, steps: r.step });
    r.model.dispose();
  }
  result.numTensors = tf.memory().numTensors;
  fs.writeFileSync(path.join(f.out, `throughput-${f.task}.json`), JSON.stringify(result, null, 2) + "\n");
  console.log(JSON.stringify(result));
});
