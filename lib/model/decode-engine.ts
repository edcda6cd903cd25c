// What the image-code sampler (./sample.ts) needs from whatever runs the transformer: the prompts once (prefill),
// then one image token per step for every batch row, each answered with the next position's logits. Three engines
// give the same logits up to float rounding: tfjsEngine (Transformer.prefill / extend with a KV cache),
// referenceEngine (tfjs recomputing the whole sequence every step, for tests and benchmarks), and OnnxDecoder
// (./onnx/decoder-session.ts: the same two graphs in ONNX Runtime). The sampler alone decides which code each row
// is fed, so a prefix of given codes (image priming) is fed exactly as sampled ones are.
import * as tf from "@tensorflow/tfjs";
import { disposeCache, type KVCache, type Transformer } from "./transformer";
import { imageTokens } from "./transformer-config";

/** One generation's state: what the engine keeps between steps (a KV cache, or the codes fed so far). */
export interface CodeStepper {
  /**
   * Feeds image codes [rows] at grid position `index` (row-major; positions are fed in order from 0) and returns
   * the next position's logits [rows · K]. The sampler reads them before the next step and may rewrite `codes`
   * once the step has resolved.
   */
  step(codes: Int32Array, index: number): Promise<Float32Array>;
  /** Frees what the state holds (tfjs tensors); the sampler calls it once, also after a failure. */
  dispose(): void;
}

/**
 * Runs a batch of prompts. An engine outlives its generations: whoever made it releases it (OnnxDecoder.release,
 * releaseOnnxDecoder), never the sampler.
 */
export interface DecodeEngine {
  /**
   * Runs the prompts (tokenizer ids [rows][T_text], <pad> included) once: the first image token's logits
   * [rows · K], and the state the steps continue from.
   */
  prefill(prompts: number[][]): Promise<{ logits: Float32Array; state: CodeStepper }>;
}

/** Reads a logits tensor into a Float32Array and disposes it. */
async function take(logits: tf.Tensor2D): Promise<Float32Array> {
  try {
    return (await logits.data()) as Float32Array; // [rows · K]
  } finally {
    logits.dispose();
  }
}

/** Transformer.prefill, then Transformer.extend per step: one incremental forward pass per token. */
export function tfjsEngine(model: Transformer): DecodeEngine {
  return {
    async prefill(prompts) {
      const text = tf.tensor2d(prompts, [prompts.length, model.config.textLen], "int32"); // [rows, T_text]
      let first: { logits: tf.Tensor2D; cache: KVCache };
      try {
        first = model.prefill(text);
      } finally {
        text.dispose();
      }
      // extend disposes the cache it is given and returns the grown one: only the latest is ever held.
      let cache = first.cache;
      const state: CodeStepper = {
        async step(codes, index) {
          const fed = tf.tensor1d(codes, "int32"); // [rows]
          let next: { logits: tf.Tensor2D; cache: KVCache };
          try {
            next = model.extend(cache, fed, index);
          } finally {
            fed.dispose();
          }
          cache = next.cache;
          return take(next.logits);
        },
        dispose: () => disposeCache(cache),
      };
      try {
        return { logits: await take(first.logits), state };
      } catch (err) {
        state.dispose();
        throw err;
      }
    },
  };
}

/**
 * No cache: every step runs the prompt and all codes fed so far through the whole transformer again
 * (Transformer.nextImageLogits). Slow, but with no cache to get wrong, it is what the cached engines are checked
 * against.
 */
export function referenceEngine(model: Transformer): DecodeEngine {
  const total = imageTokens(model.config);
  return {
    async prefill(prompts) {
      const rows = prompts.length;
      const text = tf.tensor2d(prompts, [rows, model.config.textLen], "int32"); // [rows, T_text]
      const fed = new Int32Array(rows * total); // [rows, N]: the codes fed so far, row by row
      const state: CodeStepper = {
        async step(codes, index) {
          const i = index + 1;
          const prefix = new Int32Array(rows * i);
          for (let r = 0; r < rows; r++) {
            fed[r * total + index] = codes[r];
            prefix.set(fed.subarray(r * total, r * total + i), r * i);
          }
          const past = tf.tensor2d(prefix, [rows, i], "int32"); // [rows, i]
          try {
            return await take(model.nextImageLogits(text, past));
          } finally {
            past.dispose();
          }
        },
        dispose: () => text.dispose(),
      };
      try {
        return { logits: await take(model.nextImageLogits(text, null)), state };
      } catch (err) {
        state.dispose();
        throw err;
      }
    },
  };
}
