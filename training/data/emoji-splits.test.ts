import { describe, expect, it } from "vitest";
import { splitEmoji, type SplitItem } from "./emoji-splits";

const STYLES = ["noto", "twemoji", "openmoji", "fluent"];
// 400 labels; most in all four styles, some in one style only.
const items: SplitItem[] = Array.from({ length: 400 }, (_, i) => `label ${i}`).flatMap((label, i) =>
  (i % 10 === 0 ? STYLES.slice(0, 1) : STYLES).map((style) => ({ label, style })),
);

describe("emoji splits", () => {
  const splits = splitEmoji(items);
  const by = (s: string) => items.filter((_, i) => splits[i] === s);

  it("puts every item in exactly one split, with sensible proportions", () => {
    expect(splits).toHaveLength(items.length);
    const test = by("test").length;
    const val = by("val").length;
    expect(test).toBeGreaterThan(items.length * 0.02);
    expect(test).toBeLessThan(items.length * 0.12);
    expect(val).toBeGreaterThan(items.length * 0.02);
    expect(val).toBeLessThan(items.length * 0.1);
  });

  it("never lets a held-out (label, style) pair into train", () => {
    const train = new Set(by("train").map((x) => `${x.label}|${x.style}`));
    for (const x of by("test")) expect(train.has(`${x.label}|${x.style}`)).toBe(false);
  });

  it("keeps every held-out label in train in another style", () => {
    const trainStyles = new Map<string, Set<string>>();
    for (const x of by("train")) trainStyles.set(x.label, (trainStyles.get(x.label) ?? new Set()).add(x.style));
    for (const x of by("test")) {
      const seen = trainStyles.get(x.label);
      expect(seen?.size, x.label).toBeGreaterThan(0);
      expect(seen?.has(x.style)).toBe(false);
    }
  });

  it("holds out at most one style per label and never a label drawn in one style only", () => {
    const test = by("test");
    expect(new Set(test.map((x) => x.label)).size).toBe(test.length);
    for (const x of test) expect(Number(x.label.split(" ")[1]) % 10).not.toBe(0);
  });

  it("is deterministic, independent of input order, and changes with the seed", () => {
    const reversed = [...items].reverse();
    const again = splitEmoji(reversed).reverse();
    expect(again).toEqual(splits);
    expect(splitEmoji(items, { seed: 99, testLabelFraction: 0.2, valFraction: 0.05 })).not.toEqual(splits);
  });

  it("sends supplementary items to train and leaves the core items' splits as they were", () => {
    // Two supplementary styles for every label, named so that they would sort first in a style hash.
    const extra: SplitItem[] = Array.from({ length: 400 }, (_, i) => `label ${i}`).flatMap((label) =>
      ["emojione", "blob"].map((style) => ({ label, style, supplementary: true })),
    );
    const mixed = [...extra.slice(0, 400), ...items, ...extra.slice(400)];
    const out = splitEmoji(mixed);
    expect(out.slice(0, 400).every((s) => s === "train")).toBe(true);
    expect(out.slice(400 + items.length).every((s) => s === "train")).toBe(true);
    expect(out.slice(400, 400 + items.length)).toEqual(splits);
  });
});
