// CLIP's step for the native engine (training/loop/native-engine.ts): the same loss as the task's tfjs `loss`
// (./task.ts), as one ONNX graph with its backward pass (lib/model/onnx/clip-training-graph.ts). Each step feeds the
// planned batch as it is — shifted pixels, the caption variant each row drew — and the positive-pair mask the tfjs
// loss builds from the same arrays. The logit-scale clamp stays in the task's afterStep, which the loop runs on the
// synced parameters either way.
import type { ClipConfig } from "../../lib/model/clip-config";
import { exportClipTrainingGraph } from "../../lib/model/onnx/clip-training-graph";
import type { Batch, NativeStep } from "../loop/task";

/** positives [n · n] of a batch's captions [n · T] against each row's own caption variants (the task's captionPositives). */
export type CaptionPositives = (text: Int32Array, described: Int32Array, textLen: number) => Float32Array;

/** `positives` is passed in rather than imported, so this module and ./task.ts do not import each other. */
export function clipNativeStep(c: ClipConfig, positives: CaptionPositives): NativeStep {
  let names: ReturnType<typeof exportClipTrainingGraph>["names"] | undefined;
  return {
    graph(rows) {
      const g = exportClipTrainingGraph(c, { batch: rows, gradients: true });
      names = g.names;
      return { bytes: g.bytes, params: g.params, loss: g.names.loss, logs: g.names.logs, grads: g.names.grads };
    },
    feeds(batch: Batch) {
      if (!names) throw new Error("clipNativeStep: feeds before graph");
      const n = batch.rows;
      const text = batch.arrays.text as Int32Array;
      return {
        [names.images]: { type: "uint8", data: batch.arrays.images as Uint8Array, dims: [n, c.imageSize, c.imageSize, c.channels] },
        [names.text]: { type: "int32", data: text, dims: [n, c.textLen] },
        [names.positives]: { type: "float32", data: positives(text, batch.arrays.described as Int32Array, c.textLen), dims: [n, n] },
      };
    },
  };
}
