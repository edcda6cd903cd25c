// Real-NVP's step for the native engine (training/loop/native-engine.ts): the same loss as the task's tfjs `loss`
// (./flow-task.ts), as one ONNX graph with its backward pass (lib/model/onnx/flow-training-graph.ts). Each step feeds
// the batch's pixels and the dequantisation noise u ~ U[0, 1) drawn from the same per-step seed the tfjs loss hands
// to RealNVP.bitsPerDim (the task passes its own `flowNoiseSeed`, so both engines draw from one definition).
import * as tf from "@tensorflow/tfjs";
import type { Shard } from "../../lib/data/shard";
import type { FlowConfig } from "../../lib/model/flow-config";
import { exportFlowTrainingGraph, FLOW_GRAPH_INPUTS } from "../../lib/model/onnx/flow-training-graph";
import type { NativeStep, StepContext } from "../loop/task";

/**
 * The u that dequantise (lib/model/flow.ts, "fresh" noise) draws for a batch [rows, H, W, C] and this seed:
 * tf.randomUniform's seeded stream runs in JS, so this is the tape's draw value for value.
 */
export function dequantisationNoise(dims: [number, number, number, number], seed: number): Float32Array {
  // NOTE: not tf.tidy(() => ….dataSync()): tidy walks a returned typed array element by element looking for tensors.
  const u = tf.randomUniform(dims, 0, 1, "float32", seed);
  try {
    return u.dataSync() as Float32Array;
  } finally {
    u.dispose();
  }
}

export function flowNativeStep(
  config: FlowConfig,
  shard: Pick<Shard, "height" | "width" | "channels">,
  noiseSeed: (ctx: StepContext) => number,
): NativeStep {
  const names = FLOW_GRAPH_INPUTS;
  return {
    graph(rows) {
      const g = exportFlowTrainingGraph(config, { batch: rows, gradients: true });
      return { bytes: g.bytes, params: g.params, loss: g.names.loss, logs: g.names.logs, grads: g.names.grads };
    },
    feeds(batch, ctx) {
      const dims: [number, number, number, number] = [batch.rows, shard.height, shard.width, shard.channels];
      return {
        [names.images]: { type: "uint8", data: batch.arrays.images as Uint8Array, dims },
        [names.noise]: { type: "float32", data: dequantisationNoise(dims, noiseSeed(ctx)), dims },
      };
    },
  };
}
