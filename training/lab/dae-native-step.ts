// The denoising autoencoder's step for the native engine (training/loop/native-engine.ts): the same loss as the
// task's tfjs `loss` (./dae-task.ts), as one ONNX graph with its backward pass (lib/model/onnx/dae-training-graph.ts).
// Each step feeds the clean pixels and x̃, the corruption the task's tfjs loss would draw for that step (the task
// hands over its own `corrupted`, so both engines draw from one definition).
import * as tf from "@tensorflow/tfjs";
import type { Shard } from "../../lib/data/shard";
import type { DAEConfig } from "../../lib/model/dae-config";
import { exportDaeTrainingGraph } from "../../lib/model/onnx/dae-training-graph";
import type { Batch, NativeStep, StepContext } from "../loop/task";

export function daeNativeStep(
  config: DAEConfig,
  shard: Pick<Shard, "height" | "width" | "channels">,
  corrupted: (batch: Batch, ctx: StepContext) => tf.Tensor4D,
): NativeStep {
  return {
    graph(rows) {
      const g = exportDaeTrainingGraph(config, { batch: rows, gradients: true });
      return { bytes: g.bytes, params: g.params, loss: g.names.loss, logs: g.names.logs, grads: g.names.grads };
    },
    feeds(batch, ctx) {
      const dims = [batch.rows, shard.height, shard.width, shard.channels]; // [B, H, W, C]
      const noisy = tf.tidy(() => corrupted(batch, ctx));
      try {
        return {
          images: { type: "uint8", data: batch.arrays.images as Uint8Array, dims },
          noisy: { type: "float32", data: noisy.dataSync() as Float32Array, dims },
        };
      } finally {
        noisy.dispose();
      }
    },
  };
}
