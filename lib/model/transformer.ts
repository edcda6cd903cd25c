// The text→image-token transformer: embeddings for [text; image] (separate vocabularies, learned text positions,
// row + column positions for the image grid), pre-LN blocks, and one head per modality. Training runs the whole
// sequence; generation runs the prompt once (prefill) and then one position at a time against a KV cache.
import * as tf from "@tensorflow/tfjs";
import { oneHotFloat } from "../tensor/gradients";
import {
  block,
  blockStep,
  DecodeWeights,
  createBlock,
  createLayerNorm,
  createLinear,
  layerNorm,
  linear,
  type Block,
  type LayerCache,
  type LayerNorm,
  type Linear,
} from "./attention";
import { restoreModel, type CheckpointManifest } from "./checkpoint";
import { ParamStore } from "./params";
import { imageTokens, validateTransformerConfig, type TransformerConfig } from "./transformer-config";

export interface TransformerLosses {
  loss: tf.Scalar;
  textLoss: tf.Scalar;
  imageLoss: tf.Scalar;
}

/** Per-layer keys/values of every position processed so far. */
export type KVCache = LayerCache[];

/** Mean negative log-likelihood of integer targets [N] under logits [N, V]. */
function crossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Scalar {
  const logp = tf.logSoftmax(logits);
  return tf.neg(tf.mean(tf.sum(tf.mul(logp, oneHotFloat(targets, logits.shape[1])), 1))) as tf.Scalar;
}

export class Transformer {
  readonly params: ParamStore;
  private readonly textEmb: tf.Variable;
  private readonly textPos: tf.Variable;
  private readonly imageEmb: tf.Variable;
  private readonly rowPos: tf.Variable;
  private readonly colPos: tf.Variable;
  private readonly blocks: Block[];
  private readonly lnF: LayerNorm;
  private readonly textHead: Linear;
  private readonly imageHead: Linear;
  private dropoutSeed: number;
  private readonly decodeWeights: DecodeWeights;

  constructor(
    readonly config: TransformerConfig,
    seed = 0,
  ) {
    validateTransformerConfig(config);
    const c = config;
    const p = (this.params = new ParamStore(seed));
    const emb = (name: string, rows: number) => p.add(name, tf.randomNormal([rows, c.nEmbd], 0, 0.02, "float32", p.seed()));
    this.textEmb = emb("emb.text", c.textVocab + c.textLen); // + one pad id per position
    this.textPos = emb("pos.text", c.textLen);
    this.imageEmb = emb("emb.image", c.imageVocab);
    this.rowPos = emb("pos.row", c.imageGrid);
    this.colPos = emb("pos.col", c.imageGrid);
    this.blocks = Array.from({ length: c.nLayer }, (_, i) => createBlock(p, `h.${i}`, c.nEmbd, c.nLayer));
    this.lnF = createLayerNorm(p, "ln_f", c.nEmbd);
    this.textHead = createLinear(p, "head.text", c.nEmbd, c.textVocab + c.textLen);
    this.imageHead = createLinear(p, "head.image", c.nEmbd, c.imageVocab);
    this.dropoutSeed = p.seed();
    this.decodeWeights = new DecodeWeights([...this.blocks.flatMap((b) => [b.qkv, b.proj, b.fc, b.out]), this.imageHead]);
  }

  static load(dir: string): { model: Transformer; manifest: CheckpointManifest } {
    return restoreModel(dir, ["transformer"], (config) => new Transformer(config as unknown as TransformerConfig));
  }

  /** Text ids [B, T] with <pad> → the position's own pad id (textVocab + t). */
  padToPositional(text: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      // int32 scalars throughout: a plain JS number would promote the ids to float32.
      const positional = tf.add(tf.range(0, this.config.textLen, 1, "int32"), tf.scalar(this.config.textVocab, "int32")); // [T]
      return tf.where(tf.equal(text, tf.scalar(this.config.padId, "int32")), tf.broadcastTo(positional, text.shape), text) as tf.Tensor2D;
    });
  }

  private embedText(text: tf.Tensor2D): tf.Tensor3D {
    return tf.add(tf.gather(this.textEmb, this.padToPositional(text)), this.textPos) as tf.Tensor3D; // [B, T, C]
  }

  /** Image codes [B, L] placed at grid positions start..start+L-1 (row-major). */
  private embedImage(codes: tf.Tensor2D, start: number): tf.Tensor3D {
    const g = this.config.imageGrid;
    if (codes.shape[1] === 1) {
      // One token (generation): its row and column are known here, so slice instead of computing indices.
      const pos = tf.add(tf.slice(this.rowPos, [Math.floor(start / g), 0], [1, -1]), tf.slice(this.colPos, [start % g, 0], [1, -1])); // [1, C]
      return tf.add(tf.gather(this.imageEmb, codes), pos) as tf.Tensor3D; // [B, 1, C]
    }
    const idx = tf.range(start, start + codes.shape[1], 1, "int32");
    const gi = tf.scalar(g, "int32");
    const pos = tf.add(tf.gather(this.rowPos, tf.floorDiv(idx, gi)), tf.gather(this.colPos, tf.mod(idx, gi))); // [L, C]
    return tf.add(tf.gather(this.imageEmb, codes), pos) as tf.Tensor3D; // [B, L, C]
  }

  private run(x: tf.Tensor3D, training: boolean, withCache = false): { h: tf.Tensor3D; cache: KVCache } {
    const cache: KVCache = [];
    let h = x;
    if (training && this.config.dropout > 0) h = tf.dropout(h, this.config.dropout, undefined, this.nextSeed()) as tf.Tensor3D;
    for (const b of this.blocks) {
      const out = block(b, h, {
        nHead: this.config.nHead,
        dropout: training ? this.config.dropout : 0,
        seed: this.nextSeed(),
        inference: !training,
        withCache,
      });
      h = out.y;
      if (out.cache) cache.push(out.cache);
    }
    return { h: layerNorm(this.lnF, h) as tf.Tensor3D, cache };
  }

  /**
   * Restarts the dropout stream at `seed`: a data-parallel trainer gives each replica and step its own stream, so
   * two shards of one batch never share dropout masks and a resumed run draws the same ones again.
   */
  reseedDropout(seed: number): void {
    this.dropoutSeed = (seed >>> 0) % 2147483647;
  }

  private nextSeed(): number {
    this.dropoutSeed = (this.dropoutSeed + 7919) % 2147483647;
    return this.dropoutSeed;
  }

  /** Training loss of captions [B, T] (tokenizer ids, <pad> = padId) with their image codes [B, h·w]. */
  loss(text: tf.Tensor2D, image: tf.Tensor2D, training: boolean): TransformerLosses {
    return tf.tidy(() => {
      const c = this.config;
      const n = imageTokens(c);
      const [b] = text.shape;
      // Input: every token but the last; position i predicts token i + 1.
      const x = tf.concat([this.embedText(text), this.embedImage(tf.slice(image, [0, 0], [b, n - 1]), 0)], 1) as tf.Tensor3D; // [B, T+N-1, C]
      const { h } = this.run(x, training);
      const hText = tf.reshape(tf.slice(h, [0, 0, 0], [b, c.textLen - 1, c.nEmbd]), [-1, c.nEmbd]); // [B·(T-1), C]
      const hImage = tf.reshape(tf.slice(h, [0, c.textLen - 1, 0], [b, n, c.nEmbd]), [-1, c.nEmbd]); // [B·N, C]
      const textTargets = tf.reshape(tf.slice(this.padToPositional(text), [0, 1], [b, c.textLen - 1]), [-1]) as tf.Tensor1D;
      const textLoss = crossEntropy(linear(this.textHead, hText) as tf.Tensor2D, textTargets);
      const imageLoss = crossEntropy(linear(this.imageHead, hImage) as tf.Tensor2D, tf.reshape(image, [-1]) as tf.Tensor1D);
      const w = c.imageLossWeight;
      const loss = tf.div(tf.add(textLoss, tf.mul(imageLoss, w)), 1 + w) as tf.Scalar;
      return { loss, textLoss, imageLoss };
    });
  }

  /**
   * Runs the prompt [B, T] once and returns the logits of the first image token [B, K] with a cache of all T
   * positions. The caller owns both (dispose the cache with disposeCache).
   */
  prefill(text: tf.Tensor2D): { logits: tf.Tensor2D; cache: KVCache } {
    const out = tf.tidy(() => {
      const { h, cache } = this.run(this.embedText(text), false, true);
      const last = tf.squeeze(tf.slice(h, [0, this.config.textLen - 1, 0], [-1, 1, -1]), [1]); // [B, C]
      return { logits: linear(this.imageHead, last, true) as tf.Tensor2D, kT: cache.map((l) => l.kT), v: cache.map((l) => l.v) };
    });
    return { logits: out.logits, cache: out.kT.map((kT, i) => ({ kT, v: out.v[i] })) };
  }

  /**
   * Feeds image token `codes` [B] at grid position `index` and returns the logits of the next image token [B, K]
   * and the grown cache. The old cache is disposed.
   */
  extend(cache: KVCache, codes: tf.Tensor1D, index: number): { logits: tf.Tensor2D; cache: KVCache } {
    const out = tf.tidy(() => {
      let h = tf.reshape(this.embedImage(tf.expandDims(codes, 1) as tf.Tensor2D, index), [
        1,
        codes.shape[0],
        this.config.nEmbd,
      ]) as tf.Tensor3D; // [1, B, C]
      const kT: tf.Tensor4D[] = [];
      const v: tf.Tensor4D[] = [];
      this.blocks.forEach((b, i) => {
        const step = blockStep(b, h, this.config.nHead, cache[i], this.decodeWeights);
        h = step.y;
        kT.push(step.cache.kT);
        v.push(step.cache.v);
      });
      const logits = this.decodeWeights.linear(this.imageHead, layerNorm(this.lnF, h) as tf.Tensor3D); // [1, B, K]
      return { logits: tf.reshape(logits, [codes.shape[0], this.config.imageVocab]) as tf.Tensor2D, kT, v };
    });
    disposeCache(cache);
    return { logits: out.logits, cache: out.kT.map((kT, i) => ({ kT, v: out.v[i] })) };
  }

  /** Without a cache: the logits of the image token after `prefix` [B, i], recomputing the whole sequence. */
  nextImageLogits(text: tf.Tensor2D, prefix: tf.Tensor2D | null): tf.Tensor2D {
    return tf.tidy(() => {
      const parts = [this.embedText(text)];
      if (prefix && prefix.shape[1] > 0) parts.push(this.embedImage(prefix, 0));
      const { h } = this.run(tf.concat(parts, 1) as tf.Tensor3D, false);
      const last = tf.squeeze(tf.slice(h, [0, h.shape[1] - 1, 0], [-1, 1, -1]), [1]); // [B, C]
      return linear(this.imageHead, last) as tf.Tensor2D;
    });
  }

  /** Logits of every text position's next token [B, T-1, V'] and of every image token [B, N, K], for tests. */
  allLogits(text: tf.Tensor2D, image: tf.Tensor2D): { text: tf.Tensor3D; image: tf.Tensor3D } {
    return tf.tidy(() => {
      const c = this.config;
      const n = imageTokens(c);
      const [b] = text.shape;
      const x = tf.concat([this.embedText(text), this.embedImage(tf.slice(image, [0, 0], [b, n - 1]), 0)], 1) as tf.Tensor3D;
      const { h } = this.run(x, false);
      return {
        text: linear(this.textHead, tf.slice(h, [0, 0, 0], [b, c.textLen - 1, c.nEmbd])) as tf.Tensor3D,
        image: linear(this.imageHead, tf.slice(h, [0, c.textLen - 1, 0], [b, n, c.nEmbd])) as tf.Tensor3D,
      };
    });
  }

  dispose(): void {
    this.decodeWeights.dispose();
    this.params.dispose();
  }
}

export function disposeCache(cache: KVCache): void {
  for (const l of cache) tf.dispose([l.kT, l.v]);
}
