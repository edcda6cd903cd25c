// CLIP's training pairs from a dataset folder (lib/data/manifest.ts): each split's images with their captions read
// by the given text tokenizer and, on the train split, the caption variants (./augment.ts) and the balanced sampling
// weights (training/gpt/augment.ts) when asked for. Shared by `npm run train:clip` and the retrain pipeline's CLIP
// stage, so both train on the same arrays. Variants and weights only mean something for records that carry the
// emoji (label, style) or shapes (scene) meta they are built from: clipExtrasFor says which a dataset supports —
// an admin's own folder has plain captions, whose four "variants" would be four copies of the caption.
import { captionsFor, loadSplit, readCaptions, readManifest, type CaptionRecord } from "../../lib/data/manifest";
import { tokeniseCaptions, type TextTokenizer } from "../../lib/text/tokenizer";
import { balancedWeights, labelFamilies } from "../gpt/augment";
import { shared } from "../loop/task";
import { CLIP_VARIANT_PROBS, clipCaptionVariants } from "./augment";
import type { ClipData } from "./task";

export interface ClipExtras {
  /** Caption variants beside the caption (./augment.ts clipCaptionVariants). */
  augment: boolean;
  /** Sample each (label family, style) equally often instead of each image (training/gpt/augment.ts balancedWeights). */
  balance: boolean;
}

/**
 * Which train-split extras the records' meta supports: variants need an emoji label or a shapes scene on every
 * record (without them each variant is the caption again); balancing needs an emoji label and style on every record
 * (without them it would group plain captions by their text before a ":").
 */
export function clipExtrasFor(records: readonly CaptionRecord[]): ClipExtras {
  const label = (r: CaptionRecord) => typeof r.meta.label === "string";
  const scene = (r: CaptionRecord) => !!r.meta.scene && typeof r.meta.scene === "object";
  return {
    augment: records.length > 0 && records.every((r) => label(r) || scene(r)),
    balance: records.length > 0 && records.every((r) => label(r) && typeof r.meta.style === "string"),
  };
}

/**
 * The train and val pairs of the dataset in `dataDir` at `imageSize`, captions as `textLen` ids of `tok`; with
 * `extras`, the train split's caption variants and sampling weights. Also returns the train split's caption records
 * (by index), for extras a caller adds itself (hard negatives).
 */
export function clipSplits(
  dataDir: string,
  tok: TextTokenizer,
  shape: { imageSize: number; textLen: number },
  extras: ClipExtras,
  warn: (line: string) => void,
): { data: Record<"train" | "val", ClipData>; trainRecords: CaptionRecord[] } {
  const manifest = readManifest(dataDir);
  const records = readCaptions(dataDir);
  const data = {} as Record<"train" | "val", ClipData>;
  for (const split of ["train", "val"] as const) {
    const shard = loadSplit(dataDir, split, shape.imageSize, manifest);
    const caps = captionsFor(records, split);
    if (caps.length !== shard.count) throw new Error(`${split}: ${caps.length} captions for ${shard.count} images`);
    const { ids, truncated } = tokeniseCaptions(
      tok,
      caps.map((r) => r.caption),
      shape.textLen,
    );
    if (truncated) warn(`${split}: ${truncated} captions longer than ${shape.textLen} tokens were truncated`);
    data[split] = { count: shard.count, images: shared(shard.data), text: shared(ids) };
  }
  const trainRecords = captionsFor(records, "train");
  if (extras.augment) {
    const names = labelFamilies(trainRecords);
    const variants = tokeniseCaptions(
      tok,
      trainRecords.flatMap((r) => clipCaptionVariants(r, names)),
      shape.textLen,
    );
    if (variants.truncated) warn(`train: ${variants.truncated} caption variants were truncated to ${shape.textLen} tokens`);
    Object.assign(data.train, { variants: shared(variants.ids), variantProbs: CLIP_VARIANT_PROBS });
  }
  if (extras.balance) data.train.weights = balancedWeights(trainRecords);
  return { data, trainRecords };
}
