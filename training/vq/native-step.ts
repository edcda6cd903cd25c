// The image tokenizer's step for the native engine (training/loop/native-engine.ts): the same loss as the task's
// tfjs `loss` (./task.ts), as one ONNX graph with its backward pass (lib/model/onnx/vq-training-graph.ts). Each step
// feeds the batch's pixels and, with an EMA codebook, the codebook as the last afterStep left it; the graph hands
// back the encoder outputs and codes that afterStep gathers. A dVAE's step also feeds its Gumbel noise, τ and KL
// weight, from the same per-step settings the tfjs loss reads (./task.ts gumbelStep). A VQ-GAN's step
// (lib/model/onnx/vqgan-training-graph.ts) also feeds how λ is treated at that step (GanObjective.lambdaPlan, the
// schedule the tfjs objective follows) and hands back the λ it used.
import * as tf from "@tensorflow/tfjs";
import type { Shard } from "../../lib/data/shard";
import { exportVqTrainingGraph } from "../../lib/model/onnx/vq-training-graph";
import { exportVqganTrainingGraph, VQGAN_GRAPH_INPUTS } from "../../lib/model/onnx/vqgan-training-graph";
import { gridSize } from "../../lib/model/vq-config";
import type { VQModel } from "../../lib/model/vq-model";
import type { NativeFeed, NativeStep, StepContext } from "../loop/task";
import type { GanObjective } from "./gan";

/** A dVAE step's quantizer settings (QuantizeOptions' temperature, klWeight, noiseScale and noiseSeed). */
export interface GumbelStep {
  temperature: number;
  noiseScale: number;
  klWeight: number;
  noiseSeed: number;
}

/**
 * The uniform draw gumbelSoftmax (lib/model/gumbel-quantizer.ts) turns into Gumbel noise for logits of [rows, K]
 * and this seed: tf.randomUniform's seeded stream runs in JS, so this is the tape's draw value for value.
 */
export function gumbelUniform(rows: number, k: number, seed: number): Float32Array {
  // NOTE: not tf.tidy(() => ….dataSync()): tidy walks a returned typed array element by element looking for
  // tensors, seconds for the 2M values of a default-config batch.
  const u = tf.randomUniform([rows, k], 0, 1, "float32", seed);
  try {
    return u.dataSync() as Float32Array;
  } finally {
    u.dispose();
  }
}

const scalar = (v: number): NativeFeed => ({ type: "float32", data: Float32Array.of(v), dims: [] });

/** The native step of a VQ-VAE (a VQ-GAN with `gan`), a dVAE or an "ae". A dVAE needs `gumbel`, its per-step settings. */
export function vqNativeStep(
  model: VQModel,
  shard: Pick<Shard, "height" | "width" | "channels">,
  gan?: GanObjective,
  gumbel?: (ctx: StepContext) => GumbelStep,
): NativeStep {
  const c = model.config;
  if (c.kind === "dvae" && !gumbel) throw new Error("a dVAE's native step needs its per-step Gumbel settings");
  let names: { codebook?: string; noise?: string; noiseScale?: string; temperature?: string; klWeight?: string } = {};
  return {
    // Per-row means (reconstruction, commitment, KL) average exactly over shards; a VQ-GAN's adaptive λ comes from
    // the whole batch's gradient norms, so its batch stays in one session.
    splittable: !gan,
    graph(rows) {
      const g = gan
        ? exportVqganTrainingGraph(c, { batch: rows, gradients: true, gan: gan.options, discriminator: gan.discConfig })
        : exportVqTrainingGraph(c, { batch: rows, gradients: true });
      names = g.names;
      return { bytes: g.bytes, params: g.params, loss: g.names.loss, logs: g.names.logs, grads: g.names.grads, gather: g.names.gather };
    },
    feeds(batch, ctx) {
      const feeds: Record<string, NativeFeed> = {
        images: { type: "uint8", data: batch.arrays.images as Uint8Array, dims: [batch.rows, shard.height, shard.width, shard.channels] },
      };
      if (names.codebook) {
        // Read afresh every step: afterStep's EMA update and restarts change it outside the optimizer.
        const e = model.params.get(names.codebook);
        feeds[names.codebook] = { type: "float32", data: e.dataSync() as Float32Array, dims: e.shape };
      }
      if (names.noise && names.noiseScale && names.temperature && names.klWeight) {
        const s = gumbel!(ctx);
        const positions = batch.rows * gridSize(c) ** 2;
        feeds[names.noise] = {
          type: "float32",
          data: gumbelUniform(positions, c.codebookSize, s.noiseSeed),
          dims: [positions, c.codebookSize],
        };
        feeds[names.noiseScale] = scalar(s.noiseScale);
        feeds[names.temperature] = scalar(s.temperature);
        feeds[names.klWeight] = scalar(s.klWeight);
      }
      if (gan) {
        const plan = gan.lambdaPlan(ctx.step);
        feeds[VQGAN_GRAPH_INPUTS.on] = scalar(plan.on ? 1 : 0);
        feeds[VQGAN_GRAPH_INPUTS.remeasure] = scalar(plan.remeasure ? 1 : 0);
        feeds[VQGAN_GRAPH_INPUTS.lambdaHeld] = scalar(plan.held);
      }
      return feeds;
    },
  };
}
