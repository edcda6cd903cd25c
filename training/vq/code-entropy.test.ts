// The bits-per-image estimates against hand-computed values.
import { describe, expect, it } from "vitest";
import { CodeGridModel } from "./code-entropy";

describe("code entropy", () => {
  // One 2×2 train grid, rows [0, 0] and [1, 1]: each code twice; a row starts once with each; 0 follows 0, 1 follows 1.
  const train = [0, 0, 1, 1];

  it("scores a grid under the unigram and the row bigram", () => {
    const m = new CodeGridModel(2, 2, 0.5, 0).fit(train);
    const bits = m.bitsPerImage(train);
    expect(bits.unigram).toBeCloseTo(4, 10); // p = (2 + 0.5) / (4 + 1) = 1/2 for both codes: 1 bit each
    // Row starts: p = 1/2 each (1 bit); second in a row: its left neighbour decides it (0 bits).
    expect(bits.rowBigram).toBeCloseTo(2, 10);
    // A grid whose rows alternate pays for every unseen transition once the prior is there to pay with.
    const smoothed = new CodeGridModel(2, 2, 0.5, 16).fit(train);
    expect(smoothed.bitsPerImage(train).rowBigram).toBeCloseTo(2 * 1 + 2 * -Math.log2(9 / 17), 10);
    expect(smoothed.bitsPerImage([0, 1, 1, 0]).rowBigram).toBeGreaterThan(smoothed.bitsPerImage(train).rowBigram);
  });

  it("refuses code arrays that are not whole grids", () => {
    expect(() => new CodeGridModel(2, 2).fit([0, 1, 0])).toThrow(/multiple of 2×2/);
    expect(() => new CodeGridModel(2, 2).fit(train).bitsPerImage([])).toThrow(/positive multiple/);
  });
});
