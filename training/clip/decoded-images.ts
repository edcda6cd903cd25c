// What the reranker sees: the server scores pictures the image tokenizer decoded from sampled codes, blurrier and
// flatter than the real emoji CLIP is trained on. Training CLIP on the tokenizer's reconstructions of its training
// images as well (decode(encode(x)), the best a code grid can draw of x) shows it that domain with the right
// captions, so that its scores may rank decoded candidates by content rather than by how real they look.
// NOTE: measured (README, CLIP): half the rows decoded, with hard negatives, 20 minutes: what reranking keeps moved
// by about a standard error (npm run eval:rerank, 200 prompts a set), no clear gain.
import fs from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { exportImageDecoder } from "../../lib/model/onnx/export-image-decoder";
import type { VQModel } from "../../lib/model/vq-model";

/**
 * The tokenizer's reconstructions of `count` images (uint8 HWC [count · S·S·C], as a shard stores them) in the same
 * layout, rounded to 8 bits as the server's PNGs store them; `batch` images at a time. Codes come from the tfjs
 * encoder (VQModel.encode); pixels from the decoder's ONNX graph (the one a page decodes with) on `threads` threads:
 * the whole pass took 10.5 s per 1,024 images against 23.4 with the tfjs decoder (both beside a training run).
 */
export async function decodedImages(
  vq: VQModel,
  images: Uint8Array,
  count: number,
  o: { size: number; channels: number; batch?: number; threads?: number },
): Promise<Uint8Array> {
  const px = o.size * o.size * o.channels;
  const batch = o.batch ?? 256;
  if (images.length !== count * px)
    throw new Error(`decodedImages: ${images.length} bytes are not ${count} images of ${o.size}×${o.size}×${o.channels}`);
  const graph = exportImageDecoder(vq);
  const session = await InferenceSession.create(graph.bytes, { intraOpNumThreads: o.threads ?? 2, graphOptimizationLevel: "all" });
  try {
    const out = new Uint8Array(images.length);
    for (let from = 0; from < count; from += batch) {
      const n = Math.min(batch, count - from);
      const codes = tf.tidy(() => {
        const x = tf.div(
          tf.tensor4d(images.subarray(from * px, (from + n) * px), [n, o.size, o.size, o.channels], "int32"),
          255,
        ) as tf.Tensor4D; // [n, S, S, C]
        return vq.encode(x); // [n, h, w]
      });
      let ids: Int32Array;
      try {
        ids = codes.dataSync() as Int32Array;
      } finally {
        codes.dispose();
      }
      const result = await session.run({ [graph.names.codes]: new Tensor("int32", ids, [n, graph.grid, graph.grid]) });
      const pixels = result[graph.names.images].data as Float32Array; // [n, S, S, C] in [0, 1]
      for (let i = 0; i < pixels.length; i++) out[from * px + i] = Math.round(pixels[i] * 255);
    }
    return out;
  } finally {
    await session.release();
  }
}

/** Loads `file` if it holds `bytes` bytes, else computes it and writes it atomically (a half-written file is never read). */
export async function cachedBytes(file: string, bytes: number, compute: () => Promise<Uint8Array>): Promise<Uint8Array> {
  if (fs.existsSync(file) && fs.statSync(file).size === bytes) return new Uint8Array(fs.readFileSync(file));
  const out = await compute();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(`${file}.tmp`, out);
  fs.renameSync(`${file}.tmp`, file);
  return out;
}
