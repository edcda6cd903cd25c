// Typicality of generated images: a model folder that carries a Real-NVP in `lab/flow/` (exported by
// `npm run train:lab -- --model flow --export <model>/lab/flow`) scores every image of a job in bits/dim — lower is
// more like the training data — and flags those above the flow's threshold (its manifest's typicalThreshold, the
// 99th percentile of held-out emoji) as far off the data. Without the folder nothing is scored and nothing changes.
// The score is one fixed dequantisation draw, the same for every image, of the exact pixels stored (the PNG's bytes):
// it depends on the image alone (not on its batch or place in it), so it can be recomputed from the PNG.
import fs from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { labDir } from "../lab";
import { RealNVP } from "../model/flow";

/** Where a model folder keeps its flow (relative to the folder). */
export const FLOW_SUBDIR = labDir("", "flow");

/** The dequantisation seed of every stored score. */
export const TYPICALITY_SEED = 0;

export interface TypicalityPart {
  model: RealNVP;
  /** Bits/dim above which an image is far off the data; null when the manifest has none (then nothing is flagged). */
  threshold: number | null;
}

/** The flow folder of a model folder, or null when it has none. */
export function flowDirOf(modelDir: string): string | null {
  const dir = labDir(modelDir, "flow");
  return fs.existsSync(path.join(/*turbopackIgnore: true*/ dir, "manifest.json")) ? dir : null;
}

/**
 * The model folder's flow, checked against the images it will score (`imageSize`×`imageSize`×3); undefined when the
 * folder has none. A flow that is there but unreadable or of another size is an error, as a broken CLIP is.
 */
export function loadTypicality(modelDir: string, imageSize: number): TypicalityPart | undefined {
  const dir = flowDirOf(modelDir);
  if (!dir) return undefined;
  const { model, manifest } = RealNVP.load(dir);
  const c = model.config;
  if (c.imageSize !== imageSize || c.channels !== 3) {
    model.dispose();
    throw new Error(
      `${dir}: the flow scores ${c.imageSize}×${c.imageSize}×${c.channels} images, the image tokenizer draws ${imageSize}×${imageSize}×3`,
    );
  }
  const t = manifest.metrics.typicalThreshold;
  return { model, threshold: typeof t === "number" && Number.isFinite(t) ? t : null };
}

export interface TypicalityScores {
  bitsPerDim: number[];
  atypical: boolean[];
}

/** Bits/dim of `count` images given as uint8 HWC bytes back to back (the PNGs' pixels), and their flags. */
export async function scoreTypicality(part: TypicalityPart, bytes: Uint8Array, count: number): Promise<TypicalityScores> {
  const s = part.model.config.imageSize;
  const pixels = tf.tensor4d(Int32Array.from(bytes.subarray(0, count * s * s * 3)), [count, s, s, 3], "int32"); // [N, S, S, 3] in 0..255
  let bpd: tf.Tensor1D | undefined;
  try {
    bpd = part.model.bitsPerDim(pixels, TYPICALITY_SEED, "shared");
    const bitsPerDim = Array.from(await bpd.data());
    const atypical = bitsPerDim.map((v) => part.threshold !== null && v > part.threshold);
    return { bitsPerDim, atypical };
  } finally {
    tf.dispose([pixels, ...(bpd ? [bpd] : [])]);
  }
}

/** The images with their scores attached (the same images, unchanged, when the model has no flow). */
export async function withTypicality<I extends object>(
  part: TypicalityPart | undefined,
  bytes: Uint8Array,
  images: I[],
): Promise<(I & { bitsPerDim?: number; atypical?: boolean })[]> {
  if (!part) return images;
  const scores = await scoreTypicality(part, bytes, images.length);
  // A score that is not a number (a diverged flow) is no score: stored as null, never as NaN.
  return images.map((img, i) =>
    Number.isFinite(scores.bitsPerDim[i]) ? { ...img, bitsPerDim: scores.bitsPerDim[i], atypical: scores.atypical[i] } : img,
  );
}
