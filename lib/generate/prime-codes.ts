// The worker's half of image priming: a job's source picture (./source-image.ts) → its codes under the job's own
// image tokenizer → the prefix its images start with (../model/sample.ts SampleGroup.prefix): the first
// keepRows · grid codes, row-major. Encoding happens here, with the bundle the job runs on, rather than at enqueue,
// so the request path never loads a model and the codes always come from the tokenizer that decodes them.
import * as tf from "@tensorflow/tfjs";
import type { VQModel } from "../model/vq-model";
import { sourcePixels } from "./source-image";

/** What a primed job carries: its source picture (PNG) and how many code rows of it to keep. */
export interface PrimeInit {
  source: Uint8Array;
  keepRows: number;
}

/** A picture (PNG) → its h·w codes under `vq`, row-major: what `npm run codes` computes for the training set. */
export async function sourceCodes(vq: VQModel, png: Uint8Array): Promise<Int32Array> {
  const s = vq.config.imageSize;
  const pixels = await sourcePixels(png, s);
  const codes = tf.tidy(() => vq.encode(tf.tensor4d(pixels, [1, s, s, 3]))); // [1, h, w]
  try {
    return Int32Array.from(await codes.data());
  } finally {
    codes.dispose();
  }
}

/** The rows a job keeps: 1 to grid − 1 (keeping every row would leave nothing to sample). */
export function checkKeepRows(keepRows: number, grid: number): void {
  if (!Number.isInteger(keepRows) || keepRows < 1 || keepRows >= grid)
    throw new Error(`keepRows must be a whole number 1–${grid - 1} (the model's images have ${grid} rows of codes), got ${keepRows}`);
}

/** The prefix a primed job samples after: the source's first keepRows rows of codes. */
export async function primePrefix(vq: VQModel, init: PrimeInit): Promise<Int32Array> {
  checkKeepRows(init.keepRows, vq.grid);
  return (await sourceCodes(vq, init.source)).slice(0, init.keepRows * vq.grid);
}
