// `npm run profile [-- --model gpt|vq] [--engine tfjs|ort] [--batch N] [--json FILE]`: where a training step's time
// goes — per-kernel times from tf.profile over one forward + backward of the default model, grouped by kernel and
// by kernel + shapes, the share spent in matMul-like kernels (MatMul, the attention's depthwise-conv matMuls,
// Conv2D) and the achieved GFLOP/s; with `--engine ort` (the GPT or the image tokenizer), ONNX Runtime's own trace of the native
// training graph by operator, forward and backward (training/bench/ort-profile.ts). Run it with nothing else on the
// machine; it prints a table and JSON.
import fs from "node:fs";
import os from "node:os";
import * as tf from "@tensorflow/tfjs";
import { z } from "zod";
import { Transformer } from "../lib/model/transformer";
import { DEFAULT_TRANSFORMER_CONFIG, imageTokens } from "../lib/model/transformer-config";
import { DEFAULT_VQ_CONFIG } from "../lib/model/vq-config";
import { VQModel } from "../lib/model/vq-model";
import { initBackend } from "../lib/tensor/backend";
import { registerFastGradients } from "../lib/tensor/gradients";
import { matmulGflops, syntheticGptBatch } from "./bench/models";
import { profileOrtStep, profileOrtVqStep } from "./bench/ort-profile";
import { parseFlags, runMain } from "./cli";

const Flags = z.object({
  model: z.enum(["gpt", "vq"]).default("gpt"),
  engine: z.enum(["tfjs", "ort"]).default("tfjs"),
  /** --engine ort: the GPT's size (default 4 × 256). */
  nLayer: z.coerce.number().int().min(1).max(48).optional(),
  nEmbd: z.coerce.number().int().min(64).max(2048).multipleOf(64).optional(),
  threads: z.coerce.number().int().min(1).max(64).optional(),
  batch: z.coerce.number().int().min(1).max(256).optional(),
  json: z.string().optional(),
});

/** Kernels that do the model's multiply-adds (the rest is memory-bound glue). */
const MATMUL_KERNELS = new Set(["BatchMatMul", "_FusedMatMul", "DepthwiseConv2dNative", "Conv2D", "FusedConv2D"]);

runMain("profile", async () => {
  const f = parseFlags(
    process.argv.slice(2),
    Flags,
    "usage: npm run profile -- [--model gpt|vq] [--engine tfjs|ort] [--n-layer L --n-embd C] [--threads N] [--batch N] [--json FILE]",
  );
  if (f.engine === "ort") {
    const threads = f.threads ?? os.availableParallelism();
    if (f.model === "vq") {
      const r = await profileOrtVqStep(DEFAULT_VQ_CONFIG, f.batch ?? 64, threads);
      printOrtProfile(r, `step ${r.stepMs} ms (batch ${r.batch}), ${r.imagesPerS} images/s`, f.json);
      return;
    }
    const nEmbd = f.nEmbd ?? DEFAULT_TRANSFORMER_CONFIG.nEmbd;
    const c = {
      ...DEFAULT_TRANSFORMER_CONFIG,
      dropout: 0,
      nLayer: f.nLayer ?? DEFAULT_TRANSFORMER_CONFIG.nLayer,
      nEmbd,
      nHead: nEmbd / 64,
    };
    const r = await profileOrtStep(c, f.batch ?? 32, threads);
    printOrtProfile(r, `step ${r.stepMs} ms (batch ${r.batch} × ${r.positions}), ${r.tokensPerS} tok/s`, f.json);
    return;
  }
  const backend = await initBackend({ log: { info() {}, warn: console.warn } });
  registerFastGradients();
  let step: () => void;
  let cleanup: () => void;
  let flops = 0;
  let batch: number;
  if (f.model === "gpt") {
    const c = { ...DEFAULT_TRANSFORMER_CONFIG, dropout: 0 };
    const model = new Transformer(c, 1);
    batch = f.batch ?? 16;
    const n = imageTokens(c);
    const { text, image } = syntheticGptBatch(c, batch);
    const params = [...model.params.trainable().values()];
    step = () => {
      const { value, grads } = tf.variableGrads(() => model.loss(text, image, true).loss, params);
      value.dataSync();
      tf.dispose([value, ...Object.values(grads)]);
    };
    const seq = c.textLen + n - 1;
    flops = 3 * batch * seq * (2 * (12 * c.nLayer * c.nEmbd * c.nEmbd + c.nEmbd * c.imageVocab) + 2 * c.nLayer * seq * c.nEmbd);
    cleanup = () => (tf.dispose([text, image]), model.dispose());
  } else {
    const model = new VQModel(DEFAULT_VQ_CONFIG, 1);
    batch = f.batch ?? 64;
    const x = tf.randomUniform([batch, 32, 32, 3]) as tf.Tensor4D;
    const params = [...model.params.trainable().values()];
    step = () => {
      const { value, grads } = tf.variableGrads(() => model.forward(x, { training: true }).loss, params);
      value.dataSync();
      tf.dispose([value, ...Object.values(grads)]);
    };
    cleanup = () => (x.dispose(), model.dispose());
  }
  step();
  const reps = 3;
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) step();
  const stepMs = (performance.now() - t0) / reps;
  const prof = await tf.profile(() => step());
  cleanup();
  const byKernel = new Map<string, number>();
  const byShape = new Map<string, { ms: number; calls: number }>();
  let kernelMs = 0;
  for (const k of prof.kernels) {
    const ms = k.kernelTimeMs as number;
    kernelMs += ms;
    byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + ms);
    const key = `${k.name} ${JSON.stringify(k.inputShapes)}`;
    const e = byShape.get(key) ?? { ms: 0, calls: 0 };
    e.ms += ms;
    e.calls++;
    byShape.set(key, e);
  }
  const matmulMs = [...byKernel].filter(([k]) => MATMUL_KERNELS.has(k)).reduce((a, [, v]) => a + v, 0);
  const ceiling = await matmulGflops(1024, 5);
  const result = {
    model: f.model,
    backend: backend.name,
    batch,
    stepMs: Math.round(stepMs),
    kernels: prof.kernels.length,
    kernelMs: Math.round(kernelMs),
    matmulShare: matmulMs / kernelMs,
    matmulCeilingGflops: ceiling,
    achievedGflops: flops ? flops / (stepMs / 1000) / 1e9 : null,
    byKernel: Object.fromEntries(
      [...byKernel]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 16)
        .map(([k, v]) => [k, Math.round(v)]),
    ),
    top: [...byShape]
      .sort((a, b) => b[1].ms - a[1].ms)
      .slice(0, 16)
      .map(([k, v]) => ({ kernel: k, ms: Math.round(v.ms), calls: v.calls })),
  };
  for (const t of result.top) console.log(`${String(t.ms).padStart(6)} ms ×${String(t.calls).padEnd(3)} ${t.kernel}`);
  console.log(
    `step ${result.stepMs} ms (batch ${batch}), ${result.kernels} kernels, matMul-like kernels ${(100 * result.matmulShare).toFixed(0)} % of kernel time` +
      (result.achievedGflops ? `, ${result.achievedGflops.toFixed(1)} GFLOP/s of a ${ceiling.toFixed(1)} GFLOP/s ceiling` : ""),
  );
  console.log(JSON.stringify(result));
  if (f.json) fs.writeFileSync(f.json, JSON.stringify(result, null, 2) + "\n");
});

/** The ORT profile's table (by operator, forward and backward), its headline and JSON. */
function printOrtProfile(
  r: Awaited<ReturnType<typeof profileOrtVqStep>> | Awaited<ReturnType<typeof profileOrtStep>>,
  head: string,
  json?: string,
) {
  for (const [op, v] of Object.entries(r.byOp))
    console.log(`${String(v.ms).padStart(6)} ms (fwd ${v.forwardMs}, bwd ${v.backwardMs}) ×${v.callsPerStep} ${op}`);
  console.log(`${head}; forward ${r.forwardMs} ms, backward ${r.backwardMs} ms of ${r.kernelMs} ms in kernels`);
  console.log(JSON.stringify(r));
  if (json) fs.writeFileSync(json, JSON.stringify(r, null, 2) + "\n");
}
