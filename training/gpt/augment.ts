// What the transformer reads besides "<label>, <style>": caption variants (the label alone; a few of the emoji's
// CLDR keywords with the style), so that "thumbs up" or "happy smile, noto" steer it too, and sampling weights
// that balance the corpus (52 % of the emoji train split are skin-tone variants of a few hands and people: each
// (label family, style) gets the same share, the family being the label before ":").
import { hashString } from "../../lib/data/rng";
import type { CaptionRecord } from "../../lib/data/manifest";
import type { Scene } from "../../lib/data/shapes/caption";
import { shapesCaptionVariants } from "../shapes/caption-variants";

/** Variant 0 is the dataset's caption; the loop draws variant v with probability VARIANT_PROBS[v]. */
export const VARIANT_PROBS: readonly number[] = Object.freeze([0.6, 0.2, 0.2]);

/** Lower-cased label families of a corpus' records: the names `captionVariants` keeps out of other records' keywords. */
export function labelFamilies(records: readonly CaptionRecord[]): Set<string> {
  const names = new Set<string>();
  for (const r of records) if (typeof r.meta.label === "string") names.add(labelFamily(r.meta.label).toLowerCase());
  return names;
}

/**
 * Label families (lower-cased) that are a keyword of another family's records: the prompts whose name the keywords
 * variant gave to other pictures before `captionVariants` left such keywords out (eval:rerank --named-by-others).
 */
export function familiesNamedByOthers(records: readonly CaptionRecord[]): Set<string> {
  const names = labelFamilies(records);
  const named = new Set<string>();
  for (const r of records) {
    if (typeof r.meta.label !== "string" || !Array.isArray(r.meta.tags)) continue;
    const namesOther = namesOtherFamily(names, r.meta.label);
    for (const t of r.meta.tags) if (typeof t === "string" && namesOther(t)) named.add(t.trim().toLowerCase());
  }
  return named;
}

/** Whether a keyword of a record labelled `label` is another family's name in `names` (lower-cased, as labelFamilies). */
function namesOtherFamily(names: ReadonlySet<string>, label: string | null): (keyword: string) => boolean {
  const own = label === null ? null : labelFamily(label).toLowerCase();
  return (keyword) => {
    const k = keyword.trim().toLowerCase();
    return k !== own && names.has(k);
  };
}

/**
 * The caption variants of one record, always VARIANT_PROBS.length of them (the caption stands in where one is
 * missing). A keyword that is another emoji's name (`names`, from labelFamilies) is left out of the keywords
 * variant: CLDR tags every astronaut "rocket" and every biker "bicycle", and with three genders, six skin tones and
 * four styles 63 astronaut pictures read "rocket" (in a fifth of their rows) against the rocket's own 4 pictures, so
 * "rocket, openmoji" drew astronauts. 224 of the 1,605 core train label families (compared lower-cased) are keywords of others (stop 48).
 */
export function captionVariants(r: CaptionRecord, names: ReadonlySet<string> = new Set()): string[] {
  // A shapes record carries its scene: its variants are the swapped order and the attribute lists.
  if (r.meta.scene && typeof r.meta.scene === "object") return shapesCaptionVariants(r.meta.scene as Scene);
  const label = typeof r.meta.label === "string" ? r.meta.label : null;
  const style = typeof r.meta.style === "string" ? r.meta.style : null;
  const namesOther = namesOtherFamily(names, label);
  const tags = Array.isArray(r.meta.tags)
    ? r.meta.tags.filter((t): t is string => typeof t === "string" && t.trim() !== "" && !namesOther(t))
    : [];
  const out = [r.caption, label ?? r.caption];
  if (tags.length && style) {
    // Up to three keywords, chosen by a hash of the record so the variant is the same every epoch.
    const picked = [...tags].sort((a, b) => hashString(`${r.index}:${a}`) - hashString(`${r.index}:${b}`)).slice(0, 3);
    out.push(`${picked.join(" ")}, ${style}`);
  } else out.push(r.caption);
  return out;
}

/** Label family (skin tone stripped): "thumbs up: light skin tone" → "thumbs up". */
export function labelFamily(label: string): string {
  return label.split(":")[0].trim();
}

/** Sampling weight per record: 1 / (records sharing its label family and style). */
export function balancedWeights(records: readonly CaptionRecord[]): Float32Array {
  const key = (r: CaptionRecord) => `${labelFamily(String(r.meta.label ?? r.caption))}|${String(r.meta.style ?? "")}`;
  const counts = new Map<string, number>();
  for (const r of records) counts.set(key(r), (counts.get(key(r)) ?? 0) + 1);
  return Float32Array.from(records, (r) => 1 / counts.get(key(r))!);
}
