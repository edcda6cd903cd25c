// CLIP's text encoder (Radford et al. 2021, §2.4): a GPT-style transformer over the caption's BPE tokens with
// masked (causal) self-attention; "the activations of the highest layer of the transformer at the [EOS] token are
// treated as the feature representation of the text", layer-normalised and linearly projected.
//
// Why the [EOS] token and a causal mask rather than a mean over non-pad tokens: with causal attention the [EOS]
// position is the one position that has read the whole caption and nothing after it, so right padding needs no
// separate mask (pads come later and no earlier position can see them), and the block code is exactly the
// transformer's (lib/model/attention.ts). A mean over positions would mix in prefixes ("waving", "waving hand")
// that each saw only part of the caption. The Tessera tokenizer has no [EOS] of its own (lib/text/tokenizer.ts: no
// BOS/EOS), so the encoder appends one: id `textVocab` (one extra embedding row), written at the first pad
// position, in a T + 1 long sequence, so a caption of all T tokens still gets its [EOS].
import * as tf from "@tensorflow/tfjs";
import { block, createBlock, createLayerNorm, layerNorm, type Block, type LayerNorm } from "./attention";
import { clipEosId, clipTextPositions, type ClipConfig } from "./clip-config";
import type { ParamStore } from "./params";

export interface TextEncoder {
  tokenEmb: tf.Variable; // [textVocab + 1, nEmbd]
  pos: tf.Variable; // [T + 1, nEmbd]
  blocks: Block[];
  lnFinal: LayerNorm;
  /** W_t of the paper's pseudo-code: features → shared space, no bias. */
  proj: tf.Variable; // [nEmbd, embedDim]
}

export function createTextEncoder(store: ParamStore, c: ClipConfig, prefix = "clip.text"): TextEncoder {
  const emb = (name: string, rows: number) => store.add(name, tf.randomNormal([rows, c.nEmbd], 0, 0.02, "float32", store.seed()));
  return {
    tokenEmb: emb(`${prefix}.emb`, c.textVocab + 1),
    pos: emb(`${prefix}.pos`, clipTextPositions(c)),
    blocks: Array.from({ length: c.nLayer }, (_, i) => createBlock(store, `${prefix}.h.${i}`, c.nEmbd, c.nLayer)),
    lnFinal: createLayerNorm(store, `${prefix}.ln_final`, c.nEmbd),
    proj: store.add(`${prefix}.proj.w`, tf.randomNormal([c.nEmbd, c.embedDim], 0, 1 / Math.sqrt(c.nEmbd), "float32", store.seed())),
  };
}

/**
 * Caption ids [B, t] (right-padded with padId; t ≤ textLen) → the sequence the encoder runs [B, t + 1] with [EOS]
 * at each row's first pad position (position t when the caption fills all t), and a one-hot float mask of that
 * position [B, t + 1], which picks the [EOS] features.
 */
export function withEos(ids: tf.Tensor2D, c: ClipConfig): { ids: tf.Tensor2D; eos: tf.Tensor2D } {
  return tf.tidy(() => {
    const [b, t] = ids.shape;
    if (t > c.textLen) throw new Error(`text ids have ${t} positions, more than the CLIP config's textLen ${c.textLen}`);
    const int = ids.dtype === "int32" ? ids : (tf.cast(ids, "int32") as tf.Tensor2D);
    // Captions are right-padded, so the number of non-pad ids is the [EOS] position.
    const len = tf.sum(tf.cast(tf.notEqual(int, tf.scalar(c.padId, "int32")), "int32"), 1); // [B]
    const padded = tf.concat([int, tf.fill([b, 1], c.padId, "int32")], 1) as tf.Tensor2D; // [B, t+1]
    const positions = tf.range(0, t + 1, 1, "int32"); // [t+1]
    const at = tf.equal(tf.expandDims(positions, 0), tf.expandDims(len, 1)); // [B, t+1]
    const eosIds = tf.fill([b, t + 1], clipEosId(c), "int32");
    return { ids: tf.where(at, eosIds, padded) as tf.Tensor2D, eos: tf.cast(at, "float32") as tf.Tensor2D };
  });
}

/** The longest caption of a batch of ids [B, T] (right-padded), in tokens, at least 1. Reads the ids (a small sync). */
export function longestCaption(ids: tf.Tensor2D, padId: number): number {
  const [b, t] = ids.shape;
  const v = ids.dataSync();
  let longest = 1;
  for (let r = 0; r < b; r++) {
    let n = t;
    while (n > longest && v[r * t + n - 1] === padId) n--;
    longest = Math.max(longest, n);
  }
  return longest;
}

/**
 * Caption ids [B, T] → unnormalised text features [B, embedDim]; `inference` (no gradients) uses fused kernels.
 * Only the batch's longest caption + [EOS] positions run: under the causal mask nothing after a row's [EOS] can
 * reach it, so the trailing all-pad columns would cost a third of the encoder's time for identical features.
 */
export function textFeatures(e: TextEncoder, c: ClipConfig, ids: tf.Tensor2D, inference: boolean): tf.Tensor2D {
  return tf.tidy(() => {
    const t = longestCaption(ids, c.padId);
    const seq = withEos(t < ids.shape[1] ? (tf.slice(ids, [0, 0], [-1, t]) as tf.Tensor2D) : ids, c); // [B, t+1]
    const pos = tf.slice(e.pos, [0, 0], [t + 1, -1]); // [t+1, C]
    let h = tf.add(tf.gather(e.tokenEmb, seq.ids), pos) as tf.Tensor3D; // [B, t+1, C]
    for (const b of e.blocks) h = block(b, h, { nHead: c.nHead, dropout: 0, seed: 0, inference }).y;
    // The [EOS] position's features: a masked sum over positions (differentiable, no per-row gather), then the
    // final LayerNorm (per position, so normalising only the picked row is the same and cheaper).
    const atEos = tf.sum(tf.mul(h, tf.expandDims(seq.eos, 2)), 1) as tf.Tensor2D; // [B, C]
    return tf.matMul(layerNorm(e.lnFinal, atEos) as tf.Tensor2D, e.proj as tf.Tensor2D); // [B, embedDim]
  });
}
