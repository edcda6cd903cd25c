// The CLIP task on the native engine: one ONNX Runtime step equals the task's tfjs step on the same planned batch
// (shifted images, drawn caption variants, the positive-pair mask: loss, i2t, t2i, scale and every gradient); the
// loop picks ORT by default, learns, keeps the logit scale clamped through afterStep, and writes a checkpoint that
// Clip.load reads; --engine tfjs still trains the same task.
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { Clip } from "../../lib/model/clip";
import { DEFAULT_CLIP_CONFIG, type ClipConfig } from "../../lib/model/clip-config";
import { gradError, nativeTestSetup, rel, stepRows, tapeStep, trainQuietly } from "../../test/fixtures/native-trainer";
import { maxRelativeError } from "../../test/fixtures/relative-error";
import type { TrainerConfig } from "../loop/config";
import { NativeEngine } from "../loop/native-engine";
import { paramLayout } from "../optim/flat-adamw";
import { captionPositives, CLIP_TRAINER_DEFAULTS, clipTaskDefinition, createTask, type ClipTaskOptions } from "./task";

const config: ClipConfig = {
  ...DEFAULT_CLIP_CONFIG,
  imageSize: 16,
  imageWidths: [4, 8],
  textVocab: 40,
  textLen: 4,
  nLayer: 1,
  nHead: 2,
  nEmbd: 16,
  embedDim: 16,
  maxLogitScale: 16,
};
const PX = 16 * 16 * 3;
const count = 24;

/**
 * Item i: a picture whose bytes depend on i; caption [5, 6 + i, 0, 0]; variant 1 is [2, 6 + i, 0, 0]; variant 2,
 * [3, 6 + i mod 2, 0, 0], is shared by every item of i's parity (a caption that is a positive for other images).
 */
function options(): ClipTaskOptions {
  const images = Uint8Array.from({ length: count * PX }, (_, k) => (Math.floor(k / PX) * 37 + (k % 97) * 11) % 256);
  const text = Int32Array.from({ length: count * 4 }, (_, k) => (k % 4 === 0 ? 5 : k % 4 === 1 ? 6 + Math.floor(k / 4) : 0));
  const variants = Int32Array.from({ length: count * 3 * 4 }, (_, k) => {
    const row = Math.floor(k / 4);
    const item = Math.floor(row / 3);
    const id = row % 3 === 2 ? 6 + (item % 2) : 6 + item;
    return row % 3 === 0 ? text[item * 4 + (k % 4)] : k % 4 === 0 ? 1 + (row % 3) : k % 4 === 1 ? id : 0;
  });
  const data = { count, images, text };
  return { config, seed: 1, train: { ...data, variants, variantProbs: [0.5, 0.3, 0.2] }, val: data, shift: 2, valBatch: 8, valLimit: 16 };
}

const dir = nativeTestSetup("clip-native");

describe("the CLIP task on the native engine", () => {
  it("one ORT step equals the task's tfjs step on the same planned batch (loss, logs, every gradient)", async () => {
    const task = await createTask(options(), "main");
    const layout = paramLayout(task.params.trainable());
    const engine = await NativeEngine.start(task, layout, 1, 8);
    try {
      // The first step at which some row drew a shared variant: the positive mask then has off-diagonal entries.
      const items = Int32Array.from([0, 3, 5, 7, 11, 13, 17, 19]);
      const offDiagonal = (step: number) => {
        const b = task.plan(items, step);
        return (
          captionPositives(b.arrays.text as Int32Array, b.arrays.described as Int32Array, config.textLen).reduce((a, v) => a + v, 0) > 8
        );
      };
      const step = Array.from({ length: 20 }, (_, i) => i).find(offDiagonal);
      expect(step).toBeDefined();
      const batch = task.plan(items, step!);
      const ctx = { step: step!, progress: 0, lr: 1e-3 };
      const got = await engine.gradients(batch, ctx);
      const want = tapeStep(task, layout, batch, ctx);
      expect(rel(got.loss, want.loss)).toBeLessThan(1e-5);
      expect(Object.keys(got.logs).sort()).toEqual(["i2t", "scale", "t2i"]);
      for (const [k, v] of Object.entries(want.logs)) expect(rel(got.logs[k], v)).toBeLessThan(1e-5);
      const worst = gradError(layout, got.grads, want.grads);
      console.log(`CLIP task step, ORT vs tfjs: loss ${rel(got.loss, want.loss).toExponential(2)}, grads ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(1e-4);
    } finally {
      await engine.close();
      task.dispose();
    }
  });

  it("with hard negatives: each planned row carries one, and one ORT step equals the tfjs step", async () => {
    // Item i's negatives: [5, 6 + (i + 1) mod count] (the next item's caption: a positive where that item is in the
    // batch) and [4, 6 + i] (a caption of no item).
    const k = 2;
    const negatives = Int32Array.from({ length: count * k * 4 }, (_, j) => {
      const row = Math.floor(j / 4);
      const item = Math.floor(row / k);
      const col = j % 4;
      if (row % k === 0) return col === 0 ? 5 : col === 1 ? 6 + ((item + 1) % count) : 0;
      return col === 0 ? 4 : col === 1 ? 6 + item : 0;
    });
    const o = options();
    const task = await createTask({ ...o, train: { ...o.train, negatives, negativesPerItem: k } }, "main");
    const layout = paramLayout(task.params.trainable());
    const engine = await NativeEngine.start(task, layout, 1, 8);
    try {
      const items = Int32Array.from([0, 1, 2, 7, 8, 13, 17, 19]);
      // A step at which some row drew its "next item's caption" negative while that item is in the batch.
      const extra = (step: number) => {
        const b = task.plan(items, step);
        const texts = Int32Array.from([...(b.arrays.text as Int32Array), ...(b.arrays.negatives as Int32Array)]);
        const p = captionPositives(texts, b.arrays.described as Int32Array, config.textLen, 8);
        return (
          p.length === 8 * 16 && Array.from({ length: 8 }, (_, i) => p.subarray(i * 16 + 8, i * 16 + 16)).some((r) => r.some((v) => v > 0))
        );
      };
      const step = Array.from({ length: 20 }, (_, i) => i).find(extra);
      expect(step).toBeDefined();
      const batch = task.plan(items, step!);
      expect((batch.arrays.negatives as Int32Array).length).toBe(8 * config.textLen);
      const ctx = { step: step!, progress: 0, lr: 1e-3 };
      const got = await engine.gradients(batch, ctx);
      const want = tapeStep(task, layout, batch, ctx);
      expect(rel(got.loss, want.loss)).toBeLessThan(1e-5);
      for (const [name, v] of Object.entries(want.logs)) expect(rel(got.logs[name], v)).toBeLessThan(1e-5);
      expect(gradError(layout, got.grads, want.grads)).toBeLessThan(1e-4);
      // The negatives are in the loss: the same batch without them gives another image→text loss.
      const { negatives: _dropped, ...withoutNegatives } = batch.arrays;
      const plain = tapeStep(task, layout, { ...batch, arrays: withoutNegatives }, ctx);
      expect(Math.abs(plain.logs.i2t - want.logs.i2t)).toBeGreaterThan(1e-3);
    } finally {
      await engine.close();
      task.dispose();
    }
  });

  const trainer = (steps: number, engine: TrainerConfig["engine"]): TrainerConfig => ({
    ...CLIP_TRAINER_DEFAULTS,
    batchSize: 8,
    steps,
    lr: 3e-3,
    warmup: 2,
    checkpointEvery: 1000,
    valEvery: 1000,
    logEvery: 1,
    workers: 1,
    engine,
  });

  it("trains on ONNX Runtime by default: the loss falls, the scale stays clamped, the checkpoint loads with Clip.load", async () => {
    const o = options();
    const task = await createTask(o, "main");
    task.params.get("clip.logitScale").assign(tf.scalar(Math.log(20)));
    const out = path.join(dir(), "ort");
    try {
      expect(CLIP_TRAINER_DEFAULTS.engine).toBe("auto");
      const r = await trainQuietly(task, trainer(30, "auto"), out, clipTaskDefinition(o));
      expect(r.engine).toBe("ort");
      const rows = stepRows(out);
      expect(rows).toHaveLength(30);
      const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
      const l = rows.map((row) => row.loss);
      expect(mean(l.slice(-5))).toBeLessThan(0.8 * mean(l.slice(0, 5)));
      // The scale started above its cap of 16, where the forward clamp passes it no gradient: only afterStep's clamp
      // (on the parameters the engine synced, then reloaded into the step's weights) brings it back to where it can
      // learn, and this toy task then lowers it. Without the round trip it would read 16 at every step.
      for (const row of rows) expect(row.scale).toBeLessThanOrEqual(16 + 1e-4);
      expect(rows[rows.length - 1].scale).toBeLessThan(15.9);
      expect(Math.exp(task.params.get("clip.logitScale").dataSync()[0])).toBeLessThan(15.9);

      const { model, manifest } = Clip.load(path.join(out, "model"));
      try {
        expect(manifest.kind).toBe("clip");
        expect(manifest.step).toBe(30);
        for (const [name, v] of task.params.all()) expect(maxRelativeError(model.params.get(name).dataSync(), v.dataSync())).toBe(0);
      } finally {
        model.dispose();
      }
    } finally {
      task.dispose();
    }
  });

  it("--engine tfjs still trains the task", async () => {
    const o = options();
    const task = await createTask(o, "main");
    const out = path.join(dir(), "tfjs");
    try {
      const r = await trainQuietly(task, trainer(2, "tfjs"), out, clipTaskDefinition(o));
      expect(r.engine).toBe("tfjs");
      expect(stepRows(out).map((row) => row.step)).toEqual([1, 2]);
    } finally {
      task.dispose();
    }
  });
});
