// The emoji corpus's split rule. The test split holds out whole (label, style) pairs whose label still appears in
// train in other styles: it asks whether the model composes "label" with "style" rather than recalling images.
// Decisions hash the label and style with the seed, so they do not depend on the order of the input. Supplementary
// items (styles added for training only) always go to train and take no part in the decisions: the core items'
// splits are the same with or without them.
import { hashString } from "../../lib/data/rng";
import type { Split } from "../../lib/data/manifest";

export interface SplitItem {
  label: string;
  style: string;
  supplementary?: boolean;
}

export interface EmojiSplitRule {
  seed: number;
  /** Fraction of the labels drawn in ≥ 2 styles that lose one style to test. */
  testLabelFraction: number;
  /** Fraction of the remaining items that go to val. */
  valFraction: number;
}

export const DEFAULT_EMOJI_SPLIT: Readonly<EmojiSplitRule> = Object.freeze({ seed: 1234, testLabelFraction: 0.2, valFraction: 0.05 });

export const EMOJI_SPLIT_RULE_TEXT =
  "test: for a seeded-hash 20% of the labels drawn in at least two styles, one (label, style) pair chosen by seeded hash; " +
  "val: a seeded-hash 5% of the other items, never the last train style of a test label; train: the rest " +
  "(supplementary styles: train only, and not counted among a label's styles).";

const unit = (s: string, seed: number) => hashString(s, seed) / 2 ** 32;

/** One split per item, in input order. */
export function splitEmoji(items: SplitItem[], rule: EmojiSplitRule = DEFAULT_EMOJI_SPLIT): Split[] {
  const styles = new Map<string, Set<string>>();
  for (const it of items) {
    if (it.supplementary) continue;
    if (!styles.has(it.label)) styles.set(it.label, new Set());
    styles.get(it.label)!.add(it.style);
  }
  const heldOut = new Map<string, string>();
  for (const [label, set] of styles) {
    if (set.size < 2 || unit(`test|${label}`, rule.seed) >= rule.testLabelFraction) continue;
    const ranked = [...set].sort((a, b) => hashString(`${label}|${a}`, rule.seed) - hashString(`${label}|${b}`, rule.seed));
    heldOut.set(label, ranked[0]);
  }
  return items.map((it) => {
    if (it.supplementary) return "train";
    if (heldOut.get(it.label) === it.style) return "test";
    // A test label keeps all its other styles in train, so its label is always seen there.
    if (heldOut.has(it.label)) return "train";
    return unit(`val|${it.label}|${it.style}`, rule.seed) < rule.valFraction ? "val" : "train";
  });
}
