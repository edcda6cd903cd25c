// Tessera's CLIP (Radford et al. 2021): an image encoder (./clip-image.ts) and a text encoder (./clip-text.ts), each
// projected into one shared space and l2-normalised, a learned temperature, and the symmetric InfoNCE loss
// (./clip-loss.ts). Once trained it scores any (caption, image) pair by cosine similarity: DALL·E (Ramesh et al.
// 2021, §2.5) samples many candidates per prompt and keeps the ones CLIP ranks highest; the same embeddings search
// a gallery by meaning. Parameters live in one ParamStore under clip.image.*, clip.text.* and clip.logitScale.
import * as tf from "@tensorflow/tfjs";
import { restoreModel, saveCheckpoint, type CheckpointManifest, type SaveOptions } from "./checkpoint";
import { validateClipConfig, type ClipConfig } from "./clip-config";
import { createImageEncoder, imageFeatures, type ImageEncoder } from "./clip-image";
import { clipLogits, l2Normalize, logitScaleOf, symmetricInfoNCE, type InfoNCELosses } from "./clip-loss";
import { createTextEncoder, textFeatures, type TextEncoder } from "./clip-text";
import { ParamStore } from "./params";

export const CLIP_KIND = "clip";

export interface ClipLosses extends InfoNCELosses {
  /** The logit scale 1/τ the loss used (clamped), for the log. */
  logitScale: tf.Scalar;
}

export class Clip {
  readonly params: ParamStore;
  private readonly image: ImageEncoder;
  private readonly text: TextEncoder;
  /** log(1/τ), initialised at log(1/0.07) (§2.5). */
  private readonly logScale: tf.Variable;

  constructor(
    readonly config: ClipConfig,
    seed = 0,
  ) {
    validateClipConfig(config);
    const p = (this.params = new ParamStore(seed));
    this.image = createImageEncoder(p, config);
    this.text = createTextEncoder(p, config);
    this.logScale = p.add("clip.logitScale", tf.scalar(Math.log(1 / config.initTemperature)));
  }

  static load(dir: string): { model: Clip; manifest: CheckpointManifest } {
    return restoreModel(dir, [CLIP_KIND], (config) => new Clip(config as unknown as ClipConfig));
  }

  /** Writes a checkpoint folder of kind "clip" (lib/model/checkpoint.ts); files already beside it are kept. */
  save(dir: string, options: Omit<SaveOptions, "kind" | "config"> = {}): Promise<CheckpointManifest> {
    return saveCheckpoint(dir, this.params.all(), { ...options, kind: CLIP_KIND, config: this.config });
  }

  /** Images [B, S, S, C] in [0, 1] → unit image embeddings [B, embedDim]. */
  encodeImages(images: tf.Tensor4D): tf.Tensor2D {
    const [, h, w, ch] = images.shape;
    const c = this.config;
    if (h !== c.imageSize || w !== c.imageSize || ch !== c.channels)
      throw new Error(`encodeImages: images are ${h}×${w}×${ch}, the CLIP expects ${c.imageSize}×${c.imageSize}×${c.channels}`);
    return tf.tidy(() => l2Normalize(imageFeatures(this.image, images)));
  }

  /** Caption ids [B, textLen] (right-padded with padId) → unit text embeddings [B, embedDim]. */
  encodeTexts(ids: tf.Tensor2D, training = false): tf.Tensor2D {
    return tf.tidy(() => l2Normalize(textFeatures(this.text, this.config, ids, !training)));
  }

  /** The logit scale 1/τ = exp(logitScale), clamped at maxLogitScale. */
  logitScale(): tf.Scalar {
    return logitScaleOf(this.logScale, this.config.maxLogitScale);
  }

  /**
   * Training loss of N images [N, S, S, C] with their N captions [N, textLen]; `positives` [N, N] (1 where caption j
   * describes image i) marks duplicates in the batch, otherwise caption i matches image i only. Captions past the
   * N-th ([N + M, textLen], positives [N, N + M]) are extra negatives for the image→text direction (clip-loss.ts).
   */
  loss(images: tf.Tensor4D, ids: tf.Tensor2D, positives?: tf.Tensor2D): ClipLosses {
    return tf.tidy(() => {
      const scale = this.logitScale();
      const logits = clipLogits(this.encodeImages(images), this.encodeTexts(ids, true), scale); // [N, N + M]
      return { ...symmetricInfoNCE(logits, positives), logitScale: scale };
    });
  }

  /**
   * Cosine similarity of every caption [Nt, textLen] with every image [Ni, S, S, C]: [Nt, Ni] in [−1, 1]. The
   * ranking score for reranking and search (the logit scale only multiplies it, so it changes no ranking).
   */
  score(ids: tf.Tensor2D, images: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => tf.matMul(this.encodeTexts(ids), tf.transpose(this.encodeImages(images))) as tf.Tensor2D); // [Nt, Ni]
  }

  /**
   * Clamps the stored log-scale into [0, log maxLogitScale] after an optimizer step, as the reference training code
   * does: the forward clamp alone has zero gradient above the cap, so a parameter that drifted past it could never
   * come back down.
   */
  clampLogitScale(): void {
    tf.tidy(() => this.logScale.assign(tf.clipByValue(this.logScale, 0, Math.log(this.config.maxLogitScale))));
  }

  dispose(): void {
    this.params.dispose();
  }
}
