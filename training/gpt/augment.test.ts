// Caption variants and balanced sampling: what the transformer is trained to read, and how often each emoji is seen.
import { describe, expect, it } from "vitest";
import { WeightedIndexStream } from "../../lib/data/batches";
import type { CaptionRecord } from "../../lib/data/manifest";
import { clipCaptionVariants } from "../clip/augment";
import { balancedWeights, captionVariants, familiesNamedByOthers, labelFamilies, labelFamily, VARIANT_PROBS } from "./augment";

const rec = (index: number, label: string, style: string, tags: string[] = []): CaptionRecord => ({
  split: "train",
  index,
  caption: `${label}, ${style}`,
  meta: { label, style, tags },
});

describe("caption variants", () => {
  it("gives the caption, the label alone and keywords with the style, one per probability", () => {
    const v = captionVariants(rec(3, "grinning face", "noto", ["happy", "smile", "face", "grin"]));
    expect(v).toHaveLength(VARIANT_PROBS.length);
    expect(v[0]).toBe("grinning face, noto");
    expect(v[1]).toBe("grinning face");
    expect(v[2]).toMatch(/^(\w+ ){2}\w+, noto$/);
    for (const w of v[2].replace(", noto", "").split(" ")) expect(["happy", "smile", "face", "grin"]).toContain(w);
    // The same record always gets the same keywords.
    expect(captionVariants(rec(3, "grinning face", "noto", ["happy", "smile", "face", "grin"]))[2]).toBe(v[2]);
    expect(VARIANT_PROBS.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10);
  });

  it("falls back to the caption when there are no keywords", () => {
    expect(captionVariants(rec(1, "regional indicator A", "noto"))[2]).toBe("regional indicator A, noto");
  });

  it("leaves out a keyword that is another emoji's name, never the record's own, and the CLIP variants follow", () => {
    const records = [
      rec(0, "astronaut: dark skin tone", "noto", ["rocket", "space"]),
      rec(1, "rocket", "noto", ["Rocket", "space"]),
      rec(2, "man astronaut", "noto", ["rocket", "astronaut"]),
      rec(3, "bicycle", "noto", ["bike", "bicycle"]),
    ];
    const names = labelFamilies(records);
    expect([...names].sort()).toEqual(["astronaut", "bicycle", "man astronaut", "rocket"]);
    // The families another family's keywords name: the rocket (the astronauts' keyword) and the astronaut (the man
    // astronaut's), never the bicycle by its own "bicycle" tag, nor "bike", which is nobody's name.
    expect([...familiesNamedByOthers(records)].sort()).toEqual(["astronaut", "rocket"]);
    // Without the astronaut family its name is nobody's: only the rocket is named, by the man astronaut's keyword.
    expect([...familiesNamedByOthers(records.slice(1))]).toEqual(["rocket"]);
    expect(captionVariants(records[0], names)[2]).toBe("space, noto");
    // A label's own name stays among its keywords, whatever its case.
    expect(captionVariants(records[1], names)[2].split(", ")[0].split(" ").sort()).toEqual(["Rocket", "space"]);
    // Both keywords name other emoji ("astronaut" is a family too): the variant falls back to the caption.
    expect(captionVariants(records[2], names)[2]).toBe("man astronaut, noto");
    expect(clipCaptionVariants(records[0], names)).toEqual([
      "astronaut: dark skin tone, noto",
      "astronaut: dark skin tone",
      "space, noto",
      "space",
    ]);
    // Without the corpus' names every keyword is kept, as before.
    expect(captionVariants(records[0])[2].split(", ")[0].split(" ").sort()).toEqual(["rocket", "space"]);
  });
});

describe("balanced sampling", () => {
  it("gives every (label family, style) the same total weight, so skin-tone variants stop dominating", () => {
    const records = [
      rec(0, "thumbs up", "noto"),
      ...["light", "medium-light", "medium", "medium-dark", "dark"].map((t, i) => rec(1 + i, `thumbs up: ${t} skin tone`, "noto")),
      rec(6, "red apple", "noto"),
      rec(7, "thumbs up", "twemoji"),
    ];
    expect(labelFamily("thumbs up: light skin tone")).toBe("thumbs up");
    const w = balancedWeights(records);
    const sum = (ids: number[]) => ids.reduce((a, i) => a + w[i], 0);
    expect(sum([0, 1, 2, 3, 4, 5])).toBeCloseTo(1, 6);
    expect(w[6]).toBeCloseTo(1, 6);
    expect(w[7]).toBeCloseTo(1, 6);
    // Drawn with those weights, the six noto thumbs share a third of the draws, not three quarters.
    const stream = new WeightedIndexStream(w, 1000, 7);
    const draws = [...stream.next(), ...stream.next(), ...stream.next()];
    const thumbsNoto = draws.filter((i) => i <= 5).length / draws.length;
    expect(Math.abs(thumbsNoto - 1 / 3)).toBeLessThan(0.04);
  });

  it("replays the same draws after skip (resume) and rejects bad weights", () => {
    const a = new WeightedIndexStream([1, 2, 3, 4], 8, 5);
    a.next();
    a.next();
    const third = a.next();
    const b = new WeightedIndexStream([1, 2, 3, 4], 8, 5);
    b.skip(2);
    expect(b.next()).toEqual(third);
    expect(() => new WeightedIndexStream([0, 0], 4, 1)).toThrow(/sum to 0/);
    expect(() => new WeightedIndexStream([1, Number.NaN], 4, 1)).toThrow(/finite/);
  });
});
