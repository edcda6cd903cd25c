// What CLIP is trained to read and see besides "<label>, <style>" and the one centred picture. Captions: the
// transformer's variants (training/gpt/augment.ts: the caption, the label alone, CLDR keywords with the style) plus
// the keywords without a style, since a zero-shot prompt or a gallery search names the thing, not the artist.
// Images: a small random translation with the border replicated (white stays white), the only augmentation that
// is cheap here and keeps an emoji's meaning — a flip turns "left arrow" into "right arrow" and a colour jitter
// changes skin tones and "red heart" into "orange heart".
import type { CaptionRecord } from "../../lib/data/manifest";
import { captionVariants } from "../gpt/augment";

/**
 * Variant v is drawn with probability CLIP_VARIANT_PROBS[v]: the caption, the label alone, keywords + style,
 * keywords alone. Half the rows keep the dataset caption, which is also the eval's prompt form.
 */
export const CLIP_VARIANT_PROBS: readonly number[] = Object.freeze([0.5, 0.2, 0.15, 0.15]);

/**
 * The CLIP caption variants of one record (CLIP_VARIANT_PROBS.length of them; a missing one repeats the label),
 * keywords that name another emoji (`names`: training/gpt/augment.ts labelFamilies) left out as the transformer's are.
 */
export function clipCaptionVariants(r: CaptionRecord, names: ReadonlySet<string> = new Set()): string[] {
  const [caption, label, tagsWithStyle] = captionVariants(r, names);
  const style = typeof r.meta.style === "string" ? r.meta.style : null;
  // The keywords variant falls back to the caption itself when the emoji has no keywords.
  const suffix = style ? `, ${style}` : null;
  const tags = tagsWithStyle !== caption && suffix && tagsWithStyle.endsWith(suffix) ? tagsWithStyle.slice(0, -suffix.length) : label;
  return [caption, label, tagsWithStyle, tags];
}

/**
 * Copies image `src` (H·W·C uint8, HWC) into `dst` shifted by (dx, dy) pixels, the border pixels repeated into
 * the uncovered strip: pixel (y, x) of the output is pixel (clamp(y − dy), clamp(x − dx)) of the input.
 */
export function shiftImage(src: Uint8Array, dst: Uint8Array, h: number, w: number, c: number, dx: number, dy: number): void {
  if (dx === 0 && dy === 0) {
    dst.set(src);
    return;
  }
  for (let y = 0; y < h; y++) {
    const sy = Math.min(h - 1, Math.max(0, y - dy));
    for (let x = 0; x < w; x++) {
      const sx = Math.min(w - 1, Math.max(0, x - dx));
      const from = (sy * w + sx) * c;
      const to = (y * w + x) * c;
      for (let k = 0; k < c; k++) dst[to + k] = src[from + k];
    }
  }
}
