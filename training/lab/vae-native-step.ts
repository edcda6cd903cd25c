// The VAE's step for the native engine (training/loop/native-engine.ts): the same loss as the task's tfjs `loss`
// (./vae-task.ts), as one ONNX graph with its backward pass (lib/model/onnx/vae-training-graph.ts). Each step feeds
// the batch's pixels, ε ~ N(0, I) and the KL weight, from the same per-step settings the tfjs loss reads (the task
// hands over its own `vaeStep`, so both engines draw from one definition).
import * as tf from "@tensorflow/tfjs";
import type { Shard } from "../../lib/data/shard";
import { exportVaeTrainingGraph, VAE_GRAPH_INPUTS } from "../../lib/model/onnx/vae-training-graph";
import type { VAEConfig } from "../../lib/model/vae-config";
import type { NativeStep, StepContext } from "../loop/task";

/** A VAE step's settings: the KL weight of the warm-up and the seed of the reparameterisation noise ε. */
export interface VaeStep {
  klWeight: number;
  noiseSeed: number;
}

/**
 * The ε that VAE.terms (lib/model/vae.ts) draws for latents [rows, d] and this seed: tf.randomNormal's seeded stream
 * runs in JS, so this is the tape's draw value for value.
 */
export function vaeNoise(rows: number, d: number, seed: number): Float32Array {
  // NOTE: not tf.tidy(() => ….dataSync()): tidy walks a returned typed array element by element looking for tensors.
  const eps = tf.randomNormal([rows, d], 0, 1, "float32", seed);
  try {
    return eps.dataSync() as Float32Array;
  } finally {
    eps.dispose();
  }
}

export function vaeNativeStep(
  config: VAEConfig,
  shard: Pick<Shard, "height" | "width" | "channels">,
  settings: (ctx: StepContext) => VaeStep,
): NativeStep {
  const names = VAE_GRAPH_INPUTS;
  return {
    graph(rows) {
      const g = exportVaeTrainingGraph(config, { batch: rows, gradients: true });
      return { bytes: g.bytes, params: g.params, loss: g.names.loss, logs: g.names.logs, grads: g.names.grads };
    },
    feeds(batch, ctx) {
      const s = settings(ctx);
      const d = config.latentDim;
      return {
        [names.images]: {
          type: "uint8",
          data: batch.arrays.images as Uint8Array,
          dims: [batch.rows, shard.height, shard.width, shard.channels],
        },
        [names.eps]: { type: "float32", data: vaeNoise(batch.rows, d, s.noiseSeed), dims: [batch.rows, d] },
        [names.klWeight]: { type: "float32", data: Float32Array.of(s.klWeight), dims: [] },
      };
    },
  };
}
