// Hard negatives for the emoji CLIP (issue 29 part 3). The server keeps CLIP's best 4 of 16 candidates; its eval
// (training/gpt/rerank-eval.ts) shows the candidates often hold the right emoji that CLIP passes over, and exact@1
// asks for the right sibling: "thumbs up: light skin tone", not "thumbs up: dark skin tone"; "man cook", not "woman
// cook". A random batch of 256 rarely holds an image's siblings, so nothing teaches CLIP to read the word that tells
// them apart. Each training record gets captions of its near labels drawn in its own style — another skin tone of
// its label family, or a label one word away (a word changed, added or dropped) — which the loss reads as extra
// wrong texts (lib/model/clip-loss.ts, symmetricInfoNCE's extra columns). Negatives are taken only from captions the
// train split has, so no held-out (label, style) pair enters training, not even as a wrong text.
// NOTE: measured (README, CLIP): 20 minutes with them lowered CLIP's val loss (1.235 → 1.155 against the same
// training without) but did not improve what reranking keeps (npm run eval:rerank, 200 prompts a set).
import type { CaptionRecord } from "../../lib/data/manifest";
import { labelFamily } from "../gpt/augment";

/** A label's words for the one-word-away test: lower case, split on spaces, colons and commas. */
export const labelWords = (label: string): string[] =>
  label
    .toLowerCase()
    .split(/[\s:,]+/)
    .filter(Boolean);

/** Keys under which two labels collide exactly when they are one word apart (substitution, insertion, deletion). */
function neighbourKeys(words: string[]): { own: string[]; probe: string[] } {
  const join = (w: string[]) => w.join(" ");
  const own: string[] = [`=${join(words)}`]; // a shorter label's whole self, found by a longer one's deletions
  const probe: string[] = [];
  for (let i = 0; i < words.length; i++) {
    // Word i replaced — not for a one-word label, which would make every other one-word label ("rocket", "skull") near.
    if (words.length > 1) {
      const sub = `*${join([...words.slice(0, i), "\u0000", ...words.slice(i + 1)])}`;
      own.push(sub);
      probe.push(sub);
    }
    probe.push(`=${join([...words.slice(0, i), ...words.slice(i + 1)])}`); // word i dropped: a label one word shorter
  }
  return { own, probe };
}

/**
 * For each label: the other labels that are near it — its label family's other members (skin tones), and labels
 * one word away. Symmetric: a deletion seen from the longer label is an insertion seen from the shorter.
 */
export function nearLabels(labels: Iterable<string>): Map<string, Set<string>> {
  const unique = [...new Set(labels)];
  const byKey = new Map<string, string[]>();
  const add = (key: string, label: string) => {
    const list = byKey.get(key);
    if (list) list.push(label);
    else byKey.set(key, [label]);
  };
  for (const label of unique) for (const key of neighbourKeys(labelWords(label)).own) add(key, label);
  for (const label of unique) add(`family:${labelFamily(label)}`, label);
  const near = new Map<string, Set<string>>(unique.map((l) => [l, new Set<string>()]));
  const link = (a: string, b: string) => {
    if (a === b) return;
    near.get(a)!.add(b);
    near.get(b)!.add(a);
  };
  for (const label of unique) {
    const keys = [...neighbourKeys(labelWords(label)).probe, `family:${labelFamily(label)}`];
    for (const key of keys) for (const other of byKey.get(key) ?? []) link(label, other);
  }
  return near;
}

const labelOf = (r: CaptionRecord) => (typeof r.meta.label === "string" ? r.meta.label : r.caption);
const styleOf = (r: CaptionRecord) => (typeof r.meta.style === "string" ? r.meta.style : "");

/**
 * `count` wrong captions for each of `records` (train split), [records · count] in record order: captions of train
 * records in the same style whose label is near its own (nearLabels), drawn with `rand` with replacement. A record
 * with no near label in its style gets random other captions of its style (plain negatives), so every row has K.
 * Also returns how many records had a near label.
 */
export function labelNegativeCaptions(
  records: readonly CaptionRecord[],
  rand: () => number,
  count: number,
): { captions: string[]; withNear: number } {
  const near = nearLabels(records.map(labelOf));
  const captionsOf = new Map<string, string[]>(); // "style|label" → that pair's distinct captions
  const byStyle = new Map<string, string[]>();
  for (const r of records) {
    const key = `${styleOf(r)}|${labelOf(r)}`;
    const list = captionsOf.get(key) ?? [];
    if (!list.includes(r.caption)) list.push(r.caption);
    captionsOf.set(key, list);
    const styled = byStyle.get(styleOf(r)) ?? [];
    styled.push(r.caption);
    byStyle.set(styleOf(r), styled);
  }
  let withNear = 0;
  const captions: string[] = [];
  for (const r of records) {
    const style = styleOf(r);
    const pool = [...near.get(labelOf(r))!].flatMap((l) => captionsOf.get(`${style}|${l}`) ?? []);
    if (pool.length) withNear++;
    const source = pool.length ? pool : byStyle.get(style)!.filter((c) => c !== r.caption);
    if (source.length === 0) throw new Error(`no other caption in style "${style}" to contrast "${r.caption}" with`);
    for (let k = 0; k < count; k++) captions.push(source[Math.floor(rand() * source.length)]);
  }
  return { captions, withNear };
}
