// CLIP's objective (Radford et al. 2021, §2.3 and Figure 3): embeddings of N images and N texts are l2-normalised,
// their cosine similarities scaled by a learned 1/τ form an N×N logit matrix, and a cross-entropy in both
// directions (each image picks its text among the batch's N, each text its image) is averaged — the symmetric
// InfoNCE loss (van den Oord et al. 2018). Pure tensor code, so training and serving share it.
import * as tf from "@tensorflow/tfjs";

export interface InfoNCELosses {
  /** (imageToText + textToImage) / 2. */
  loss: tf.Scalar;
  /** Mean cross-entropy of each image's softmax over the texts (rows of the logit matrix). */
  imageToText: tf.Scalar;
  /** Mean cross-entropy of each text's softmax over the images (columns). */
  textToImage: tf.Scalar;
}

/** x [N, D] → x / ‖x‖ per row: on the unit sphere, a dot product is the cosine similarity. */
export function l2Normalize(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.mul(x, tf.rsqrt(tf.add(tf.sum(tf.square(x), 1, true), 1e-12))) as tf.Tensor2D); // [N, D]
}

/**
 * The logit scale 1/τ = exp(logScale), clamped at `max`. The temperature is a log-parameterised scalar "to avoid
 * turning it into a hyper-parameter" and clipped at 100 "to prevent training instability" (§2.5).
 */
export function logitScaleOf(logScale: tf.Tensor, max: number): tf.Scalar {
  return tf.tidy(() => tf.minimum(tf.exp(tf.reshape(logScale, [])), max) as tf.Scalar); // [] (a stored [1] reads the same)
}

/** Cosine similarities of unit image [Ni, D] and text [Nt, D] embeddings times the scale: logits [Ni, Nt]. */
export function clipLogits(imageEmb: tf.Tensor2D, textEmb: tf.Tensor2D, scale: tf.Scalar): tf.Tensor2D {
  // An explicit transpose and a plain matMul: the fast path on wasm (transposeB runs ~10× slower there).
  return tf.tidy(() => tf.mul(tf.matMul(imageEmb, tf.transpose(textEmb)), scale) as tf.Tensor2D); // [Ni, Nt]
}

/** Mean over rows of −Σ_j target[i, j] · log softmax(logits[i])_j, targets rows summing to 1. */
function softCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar {
  return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), targets), 1))) as tf.Scalar;
}

/** Rows of a 0/1 matrix scaled to sum to 1 (a row without a positive stays zero: it adds no loss). */
function rowDistribution(positives: tf.Tensor2D): tf.Tensor2D {
  return tf.div(positives, tf.maximum(tf.sum(positives, 1, true), 1)) as tf.Tensor2D;
}

/**
 * Symmetric InfoNCE of a logit matrix [N, N] whose row i is image i against every text. Without `positives`, text
 * i is image i's only match (the paper's `labels = np.arange(n)`). `positives` [N, N] (1 where text j describes
 * image i; the diagonal must be 1) spreads each row's target over all its matches instead, so a caption that fits
 * two images of the batch (the label alone, "grinning face", fits it in every style) is not taught to be a negative
 * for one of them. The text→image direction reads the columns: the transposed matrices, because tf.logSoftmax only
 * runs on the last axis.
 *
 * Texts past the N-th ([N, N + M] logits and positives) are extra negatives — hard negatives, captions one word away
 * from an image's own (training/shapes/hard-negatives.ts): each image's softmax runs over all N + M texts, while the
 * text→image direction keeps the first N, the texts that describe an image of the batch.
 */
export function symmetricInfoNCE(logits: tf.Tensor2D, positives?: tf.Tensor2D): InfoNCELosses {
  return tf.tidy(() => {
    const [ni, nt] = logits.shape;
    if (nt < ni) throw new Error(`symmetricInfoNCE needs N images × at least N texts, got [${logits.shape}]`);
    const p = positives ?? (tf.eye(ni, nt) as tf.Tensor2D);
    if (p.shape.join("x") !== logits.shape.join("x")) throw new Error(`positives [${p.shape}] do not match logits [${logits.shape}]`);
    const imageToText = softCrossEntropy(logits, rowDistribution(p));
    const square = (m: tf.Tensor2D) => (nt === ni ? m : (tf.slice(m, [0, 0], [ni, ni]) as tf.Tensor2D)); // [N, N]
    const textToImage = softCrossEntropy(
      tf.transpose(square(logits)) as tf.Tensor2D,
      rowDistribution(tf.transpose(square(p)) as tf.Tensor2D),
    );
    const loss = tf.div(tf.add(imageToText, textToImage), 2) as tf.Scalar;
    return { loss, imageToText, textToImage };
  });
}
