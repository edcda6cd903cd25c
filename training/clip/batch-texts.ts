// Which texts a CLIP batch contrasts and which of them describe which image: shared by the task's tfjs loss
// (./task.ts) and its native step (./native-step.ts), so both engines read the same targets.
import type { Batch } from "../loop/task";

/**
 * positives[i·n + j] = 1 where caption j is one of image i's own caption variants (`described`: each row's V
 * variants, [n · V · T]; the row's caption is always among them). InfoNCE's default target treats every other
 * caption of the batch as a negative, but the label-only caption "grinning face" drawn for the noto image describes
 * the twemoji "grinning face" just as well: as a negative it would teach CLIP that a label without a style does not
 * fit the other styles. The relation is not symmetric ("grinning face, twemoji" does not describe the noto image),
 * and skin tones stay apart ("thumbs up: light skin tone" is not a variant of "thumbs up: dark skin tone"). Exact
 * duplicate captions need no help: their two one-hot targets give the same loss as one shared soft target.
 */
export function captionPositives(text: Int32Array, described: Int32Array, textLen: number, images = text.length / textLen): Float32Array {
  const n = text.length / textLen;
  const v = described.length / (images * textLen);
  if (!Number.isInteger(n) || !Number.isInteger(v) || v < 1 || images > n)
    throw new Error(`captionPositives: ${text.length} caption ids and ${described.length} variant ids do not fit textLen ${textLen}`);
  const key = (a: Int32Array, row: number) => a.subarray(row * textLen, (row + 1) * textLen).join(",");
  const captions = Array.from({ length: n }, (_, j) => key(text, j));
  const out = new Float32Array(images * n); // [images, texts]
  for (let i = 0; i < images; i++) {
    const own = new Set(Array.from({ length: v }, (_, k) => key(described, i * v + k)));
    for (let j = 0; j < n; j++) if (own.has(captions[j])) out[i * n + j] = 1;
  }
  return out;
}

/**
 * A planned batch's texts for the loss: its captions [n · T], then (with hard negatives) each row's negative
 * [n · T], and the positives [n, texts] against each row's own variants — a negative that happens to be another
 * row's caption is a positive for that row, as any duplicate is.
 */
export function batchTexts(batch: Batch, textLen: number): { texts: Int32Array; count: number; positives: Float32Array } {
  const captions = batch.arrays.text as Int32Array;
  const negatives = batch.arrays.negatives as Int32Array | undefined;
  let texts = captions;
  if (negatives) {
    texts = new Int32Array(captions.length + negatives.length); // [2n · T]: the captions, then the negatives
    texts.set(captions);
    texts.set(negatives, captions.length);
  }
  const count = texts.length / textLen;
  return { texts, count, positives: captionPositives(texts, batch.arrays.described as Int32Array, textLen, batch.rows) };
}
