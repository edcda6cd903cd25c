// CLIP's step for the native engine (training/loop/native-engine.ts): the same loss as the task's tfjs `loss`
// (./task.ts), as one ONNX graph with its backward pass (lib/model/onnx/clip-training-graph.ts). Each step feeds the
// planned batch as it is — shifted pixels, the caption variant each row drew — and the positive-pair mask the tfjs
// loss builds from the same arrays (./batch-texts.ts). The logit-scale clamp stays in the task's afterStep, which the
// loop runs on the synced parameters either way.
import type { ClipConfig } from "../../lib/model/clip-config";
import { exportClipTrainingGraph } from "../../lib/model/onnx/clip-training-graph";
import type { Batch, NativeStep } from "../loop/task";
import { batchTexts } from "./batch-texts";

/** `negatives`: the batches carry one hard-negative caption per row (ClipData.negatives). */
export function clipNativeStep(c: ClipConfig, negatives: boolean): NativeStep {
  let names: ReturnType<typeof exportClipTrainingGraph>["names"] | undefined;
  return {
    graph(rows) {
      const g = exportClipTrainingGraph(c, { batch: rows, gradients: true, negatives });
      names = g.names;
      return { bytes: g.bytes, params: g.params, loss: g.names.loss, logs: g.names.logs, grads: g.names.grads };
    },
    feeds(batch: Batch) {
      if (!names) throw new Error("clipNativeStep: feeds before graph");
      const n = batch.rows;
      const t = batchTexts(batch, c.textLen);
      const feeds: ReturnType<NativeStep["feeds"]> = {
        [names.images]: { type: "uint8", data: batch.arrays.images as Uint8Array, dims: [n, c.imageSize, c.imageSize, c.channels] },
        [names.text]: { type: "int32", data: batch.arrays.text as Int32Array, dims: [n, c.textLen] },
        [names.positives]: { type: "float32", data: t.positives, dims: [n, t.count] },
      };
      if (names.negatives) feeds[names.negatives] = { type: "int32", data: batch.arrays.negatives as Int32Array, dims: [n, c.textLen] };
      return feeds;
    },
  };
}
