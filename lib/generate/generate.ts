// Prompt → PNG images with the loaded model: tokenise (reporting truncation and unseen words), sample image codes
// with the KV cache (yielding to the event loop between tokens so a server stays responsive), decode with the
// image tokenizer, encode PNGs with sharp. Optional partial decodes let a caller stream the picture as it forms.
import * as tf from "@tensorflow/tfjs";
import sharp from "sharp";
import { sampleImageCodes } from "../model/sample";
import type { ModelBundle } from "./model-bundle";

export interface GenerateParams {
  prompt: string;
  n: number;
  guidance: number;
  temperature: number;
  topK?: number;
  topP?: number;
  seed: number;
}

export interface GeneratedImage {
  png: Buffer;
  width: number;
  height: number;
}

export interface GenerateProgress {
  /** Image tokens written so far, per image. */
  done: number;
  total: number;
  /** PNGs of the images so far (unwritten codes drawn as code 0), when requested for this step. */
  partial?: GeneratedImage[];
}

export interface GenerateOptions {
  onProgress?: (p: GenerateProgress) => void | Promise<void>;
  /** Decode partial images every this many tokens (0: never). */
  partialEvery?: number;
}

export interface GenerateResult {
  images: GeneratedImage[];
  codes: Int32Array[];
  warnings: { truncated: boolean; unknownWords: string[] };
  timingsMs: { tokens: number; decode: number };
}

/** Codes (−1 = not yet written) → PNG images, at the tokenizer's native resolution. */
export async function codesToPngs(bundle: ModelBundle, codes: Int32Array[]): Promise<GeneratedImage[]> {
  const vq = bundle.imageTokenizer;
  const g = vq.grid;
  const grid = tf.tensor3d(
    codes.flatMap((c) => Array.from(c, (v) => (v < 0 ? 0 : v))),
    [codes.length, g, g],
    "int32",
  );
  const pixels = vq.decode(grid);
  const bytes = tf.tidy(() => tf.cast(tf.round(tf.mul(pixels, 255)), "int32"));
  const data = await bytes.data();
  tf.dispose([grid, pixels, bytes]);
  const size = vq.config.imageSize;
  const n = size * size * 3;
  return Promise.all(
    codes.map(async (_, i) => ({
      png: await sharp(Buffer.from(Uint8Array.from(data.subarray(i * n, (i + 1) * n))), { raw: { width: size, height: size, channels: 3 } })
        .png()
        .toBuffer(),
      width: size,
      height: size,
    })),
  );
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function generateImages(bundle: ModelBundle, params: GenerateParams, options: GenerateOptions = {}): Promise<GenerateResult> {
  const c = bundle.transformer.config;
  const encoded = bundle.text.encode(params.prompt, c.textLen);
  const started = performance.now();
  const codes = await sampleImageCodes(bundle.transformer, encoded.ids, bundle.text.encodeNull(c.textLen), {
    n: params.n,
    guidance: params.guidance,
    temperature: params.temperature,
    topK: params.topK,
    topP: params.topP,
    seed: params.seed,
    onToken: async ({ index, total, codes: sofar }) => {
      const done = index + 1;
      const every = options.partialEvery ?? 0;
      const partial = every > 0 && done % every === 0 && done < total ? await codesToPngs(bundle, sofar) : undefined;
      await options.onProgress?.({ done, total, partial });
      await yieldToEventLoop();
    },
  });
  const tokensMs = performance.now() - started;
  const images = await codesToPngs(bundle, codes);
  return {
    images,
    codes,
    warnings: { truncated: encoded.truncated, unknownWords: encoded.unknownWords },
    timingsMs: { tokens: Math.round(tokensMs), decode: Math.round(performance.now() - started - tokensMs) },
  };
}
