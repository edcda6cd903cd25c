// Hard negatives for the emoji CLIP: near labels (skin tones of the family, one word changed, added or dropped) in
// the record's own style, drawn only from captions the records have, never the record's own label.
import { describe, expect, it } from "vitest";
import type { CaptionRecord } from "../../lib/data/manifest";
import { mulberry32 } from "../../lib/data/rng";
import { labelNegativeCaptions, nearLabels } from "./label-negatives";

const record = (index: number, label: string, style: string): CaptionRecord => ({
  split: "train",
  index,
  caption: `${label}, ${style}`,
  meta: { label, style },
});

const LABELS = [
  "thumbs up",
  "thumbs up: light skin tone",
  "thumbs up: dark skin tone",
  "thumbs down",
  "man cook",
  "woman cook",
  "cook",
  "rocket",
  "skull",
  "red heart",
  "orange heart",
];

describe("near labels", () => {
  const near = nearLabels(LABELS);
  const of = (l: string) => [...near.get(l)!].sort();

  it("are the family's other skin tones and the labels one word away, symmetric, never the label itself", () => {
    expect(of("thumbs up: light skin tone")).toEqual(
      ["thumbs down: light skin tone", "thumbs up", "thumbs up: dark skin tone"].filter((l) => LABELS.includes(l)),
    );
    expect(of("man cook")).toEqual(["cook", "woman cook"]); // a word changed; a word dropped
    expect(of("cook")).toEqual(["man cook", "woman cook"]); // a word added
    expect(of("red heart")).toEqual(["orange heart"]);
    expect(of("thumbs up")).toEqual(["thumbs down", "thumbs up: dark skin tone", "thumbs up: light skin tone"]);
    for (const [label, others] of near) {
      expect(others.has(label)).toBe(false);
      for (const o of others) expect(near.get(o)!.has(label)).toBe(true);
    }
  });

  it("do not make every one-word label near every other", () => {
    expect(of("rocket")).toEqual([]);
    expect(of("skull")).toEqual([]);
  });
});

describe("label negative captions", () => {
  const styles = ["noto", "twemoji"];
  // "woman cook, twemoji" is held out: it must never be drawn, even for "man cook, twemoji".
  const records = LABELS.flatMap((l, i) =>
    styles.filter((s) => !(l === "woman cook" && s === "twemoji")).map((s, k) => record(2 * i + k, l, s)),
  );

  it("gives K captions per record, each a caption the records have, in the record's style, never its own label", () => {
    const own = new Set(records.map((r) => r.caption));
    const { captions, withNear } = labelNegativeCaptions(records, mulberry32(7), 5);
    expect(captions).toHaveLength(records.length * 5);
    expect(withNear).toBe(records.length - 4); // rocket and skull in both styles have no near label
    records.forEach((r, i) => {
      for (const c of captions.slice(i * 5, (i + 1) * 5)) {
        expect(own.has(c)).toBe(true);
        expect(c.endsWith(`, ${r.meta.style}`)).toBe(true);
        expect(c).not.toBe(r.caption);
      }
    });
    expect(captions).not.toContain("woman cook, twemoji");
  });

  it("draws near labels where there are some, other captions of the style where there are none", () => {
    const { captions } = labelNegativeCaptions(records, mulberry32(9), 40);
    const at = (label: string, style: string) => {
      const i = records.findIndex((r) => r.meta.label === label && r.meta.style === style);
      return new Set(captions.slice(i * 40, (i + 1) * 40));
    };
    expect([...at("man cook", "noto")].sort()).toEqual(["cook, noto", "woman cook, noto"]);
    expect([...at("man cook", "twemoji")]).toEqual(["cook, twemoji"]);
    expect(at("rocket", "noto").size).toBeGreaterThan(3); // plain negatives from the whole style
  });
});
