// The image tokenizer's step for the native engine (training/loop/native-engine.ts): the same loss as the task's
// tfjs `loss` (./task.ts), as one ONNX graph with its backward pass (lib/model/onnx/vq-training-graph.ts). Each step
// feeds the batch's pixels and, with an EMA codebook, the codebook as the last afterStep left it; the graph hands
// back the encoder outputs and codes that afterStep gathers.
import type { Shard } from "../../lib/data/shard";
import { exportVqTrainingGraph } from "../../lib/model/onnx/vq-training-graph";
import type { VQModel } from "../../lib/model/vq-model";
import type { NativeFeed, NativeStep } from "../loop/task";

/** The native step of a VQ-VAE or an "ae"; undefined where the graph does not exist yet (dVAE, VQ-GAN). */
export function vqNativeStep(model: VQModel, shard: Pick<Shard, "height" | "width" | "channels">, gan: boolean): NativeStep | undefined {
  const c = model.config;
  if (gan || (c.kind !== "vqvae" && c.kind !== "ae")) return undefined;
  let codebook: string | undefined;
  return {
    graph(rows) {
      const g = exportVqTrainingGraph(c, { batch: rows, gradients: true });
      codebook = g.names.codebook;
      return { bytes: g.bytes, params: g.params, loss: g.names.loss, logs: g.names.logs, grads: g.names.grads, gather: g.names.gather };
    },
    feeds(batch) {
      const feeds: Record<string, NativeFeed> = {
        images: { type: "uint8", data: batch.arrays.images as Uint8Array, dims: [batch.rows, shard.height, shard.width, shard.channels] },
      };
      if (codebook) {
        // Read afresh every step: afterStep's EMA update and restarts change it outside the optimizer.
        const e = model.params.get(codebook);
        feeds[codebook] = { type: "float32", data: e.dataSync() as Float32Array, dims: e.shape };
      }
      return feeds;
    },
  };
}
