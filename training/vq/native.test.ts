// The image tokenizer task on the native engine: one ONNX Runtime step equals the task's tfjs step (loss, terms,
// every gradient, and the encoder outputs and codes its afterStep gathers, which must come back through the engine
// and reseed the EMA codebook the next step reads); the loop picks ORT by default and learns, and the checkpoint it
// writes loads with VQModel.load; a VQ-GAN trains on ORT by default too (its step: ./vqgan-native.test.ts; the dVAE's:
// ./dvae-native.test.ts).
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { VQModel } from "../../lib/model/vq-model";
import { saveCheckpoint } from "../../lib/model/checkpoint";
import { gradError, nativeTestSetup, rel, shortTrainer, stepRows, tapeStep, trainQuietly } from "../../test/fixtures/native-trainer";
import { maxRelativeError } from "../../test/fixtures/relative-error";
import { tinyVqTaskOptions } from "../../test/fixtures/tiny-task-options";
import { buildShapes } from "../data/build-shapes";
import type { TrainerConfig } from "../loop/config";
import { resolveEngine } from "../loop/engine";
import { NativeEngine } from "../loop/native-engine";
import { paramLayout } from "../optim/flat-adamw";
import { DEFAULT_GAN_OPTIONS } from "./gan";
import { createTask, VQ_TRAINER_DEFAULTS, vqTaskDefinition, type VQTaskOptions } from "./task";

const dir = nativeTestSetup("vq-native");
beforeAll(() => buildShapes({ outDir: path.join(dir(), "shapes"), seed: 3, counts: { train: 64, val: 16, test: 8 }, log: () => {} }));

const options = (over: Partial<VQTaskOptions["config"]> = {}, more: Partial<VQTaskOptions> = {}): VQTaskOptions =>
  tinyVqTaskOptions(dir(), over, more);

describe("the VQ-VAE task on the native engine", () => {
  // Zero padding: tfjs's own MirrorPad gradient drops the border copies (lib/model/onnx/vq-training-graph.test.ts),
  // so only a zero-padded model has a stock tfjs step for the native one to equal.
  it("one ORT step equals the task's tfjs step, and the gathered outputs reseed the codebook the next step reads", async () => {
    const task = await createTask(options({ padding: "zero" }), "main");
    const layout = paramLayout(task.params.trainable());
    const engine = await NativeEngine.start(task, layout, 1, 8);
    try {
      const items = (from: number) => Int32Array.from({ length: 8 }, (_, i) => from + i);
      const ctx = { step: 0, progress: 0, lr: 1e-3 };
      // Step 0: every EMA code is dead and restarts from the gathered encoder outputs (a data-seeded codebook).
      const first = await engine.gradients(task.plan(items(0), 0), ctx);
      expect(first.gathered.latents.shape).toEqual([8, 8, 8, 8]);
      expect(first.gathered.codes.dtype).toBe("int32");
      const codebook = Float32Array.from(task.params.get("vq.embedding").dataSync());
      await task.afterStep!(first.gathered, { ...ctx, replica: 0 });
      tf.dispose(Object.values(first.gathered));
      expect(maxRelativeError(task.params.get("vq.embedding").dataSync(), codebook)).toBeGreaterThan(0.5);

      const batch = task.plan(items(8), 1);
      const got = await engine.gradients(batch, { ...ctx, step: 1 });
      const want = tapeStep(task, layout, batch, { ...ctx, step: 1 });
      expect(rel(got.loss, want.loss)).toBeLessThan(1e-5);
      expect(Object.keys(got.logs).sort()).toEqual(["commitment", "reconstruction"]);
      for (const [k, v] of Object.entries(want.logs)) expect(rel(got.logs[k], v)).toBeLessThan(1e-5);
      expect(maxRelativeError(got.gathered.latents.dataSync(), want.gathered.latents)).toBeLessThan(1e-5);
      expect(Array.from(got.gathered.codes.dataSync())).toEqual(Array.from(want.gathered.codes));
      expect(gradError(layout, got.grads, want.grads)).toBeLessThan(1e-4);
      tf.dispose(Object.values(got.gathered));
    } finally {
      await engine.close();
      task.dispose();
    }
  });

  it("trains on ONNX Runtime by default: the loss falls, the EMA codebook fills, and the checkpoint loads with VQModel.load", async () => {
    const o = options();
    const task = await createTask(o, "main");
    const out = path.join(dir(), "run");
    try {
      const trainer: TrainerConfig = {
        ...VQ_TRAINER_DEFAULTS,
        batchSize: 16,
        steps: 30,
        lr: 3e-3,
        warmup: 2,
        checkpointEvery: 1000,
        valEvery: 1000,
        logEvery: 1,
        workers: 1,
      };
      expect(trainer.engine).toBe("auto");
      const r = await trainQuietly(task, trainer, out, vqTaskDefinition(o));
      expect(r.engine).toBe("ort");
      const losses = stepRows(out).map((row) => row.loss);
      expect(losses).toHaveLength(30);
      const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
      expect(mean(losses.slice(-5))).toBeLessThan(0.7 * mean(losses.slice(0, 5)));
      // afterStep saw every step's codes: from zero, 30 EMA steps of B·h·w vectors each sum to B·h·w·(1 − decay³⁰)
      // (restarted codes add one apiece on top).
      const c = o.config;
      const counts = task.params.get("vq.emaCount").dataSync() as Float32Array;
      const vectors = 16 * (c.imageSize / c.downsample) ** 2;
      expect(counts.reduce((s, v) => s + v, 0)).toBeGreaterThan(0.99 * vectors * (1 - c.emaDecay ** 30));

      const { model, manifest } = VQModel.load(path.join(out, "model"));
      try {
        expect(manifest.kind).toBe("vqvae");
        expect(manifest.step).toBe(30);
        for (const [name, v] of task.params.all()) expect(maxRelativeError(model.params.get(name).dataSync(), v.dataSync())).toBe(0);
      } finally {
        model.dispose();
      }
    } finally {
      task.dispose();
    }
  });

  it("--keep-codes trains a new, wider decoder and nothing else: every image keeps the warm start's codes", async () => {
    // The tokenizer whose codes are kept: a few steps of training, so its codebook is data-seeded, then exported.
    const base = options();
    const from = path.join(dir(), "keep-from");
    const warm = await createTask(base, "main");
    try {
      await trainQuietly(warm, shortTrainer(VQ_TRAINER_DEFAULTS, 4), path.join(dir(), "keep-from-run"), vqTaskDefinition(base));
      await saveCheckpoint(from, warm.params.all(), { kind: "vqvae", config: base.config, dtype: "float16" });
    } finally {
      warm.dispose();
    }
    const { model: before } = VQModel.load(from);
    const o = options({ decoderWidths: [16, 24], outputWidth: 12 }, { keepCodes: true, freshDecoder: true });
    const task = await createTask(o, "main");
    const val = tf.div(tf.tensor4d(o.val.data.slice(0, 16 * 32 * 32 * 3), [16, 32, 32, 3], "int32"), 255) as tf.Tensor4D;
    try {
      const r = await trainQuietly(
        task,
        { ...shortTrainer(VQ_TRAINER_DEFAULTS, 6), warmStart: from },
        path.join(dir(), "keep"),
        vqTaskDefinition(o),
      );
      expect(r.engine).toBe("ort");
      // Encoder, codebook and its EMA state: exactly as loaded.
      for (const [name, v] of task.params.all())
        if (!name.startsWith("dec.")) expect(maxRelativeError(v.dataSync(), before.params.get(name).dataSync()), name).toBe(0);
      // The new decoder is the preset's shape and has learned: its reconstructions beat the first step's.
      expect(task.params.get("dec.out.w").shape).toEqual([3, 3, 12, 3]);
      const losses = stepRows(path.join(dir(), "keep")).map((row) => row.reconstruction);
      expect(losses[losses.length - 1]).toBeLessThan(losses[0]);
      // The run's checkpoint, as served: the same codes for every image.
      const { model: after } = VQModel.load(path.join(dir(), "keep", "model"));
      try {
        expect(after.config.decoderWidths).toEqual([16, 24]);
        expect(Array.from(after.encode(val).dataSync())).toEqual(Array.from(before.encode(val).dataSync()));
      } finally {
        after.dispose();
      }
    } finally {
      tf.dispose(val);
      before.dispose();
      task.dispose();
    }
  });

  it("a VQ-GAN has a native graph too: ORT by default, tfjs on request", async () => {
    const task = await createTask(options({}, { gan: DEFAULT_GAN_OPTIONS }), "main");
    try {
      expect(task.native).toBeDefined();
      expect(resolveEngine("auto", task)).toBe("ort");
      expect(resolveEngine("tfjs", task)).toBe("tfjs");
    } finally {
      task.dispose();
    }
  });
});
