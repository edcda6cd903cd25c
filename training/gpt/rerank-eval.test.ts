// The reranking eval's oracle: what a reranker that knew the answer could keep of the same candidates.
import { describe, expect, it } from "vitest";
import { keptCeiling } from "./rerank-eval";

// Corpus labels by id: 0–1 the prompt's exact label, 2 its family in another skin tone, 3–4 unrelated.
const labels = ["thumbs up: light skin tone", "thumbs up: light skin tone", "thumbs up: dark skin tone", "rocket", "skull"];
const label = "thumbs up: light skin tone";

describe("keptCeiling", () => {
  it("counts at most `images` hits per measure, however many candidates hit", () => {
    const neighbours = [
      [0, 3, 3, 3, 3], // exact @1
      [2, 0, 3, 3, 3], // family @1, exact @5
      [2, 2, 2, 2, 2], // family @1 only
      [3, 4, 3, 4, 3], // nothing
      [1, 4, 4, 4, 4], // exact @1
      [2, 4, 4, 4, 4], // family @1 only
    ];
    expect(keptCeiling(neighbours, labels, label, 4)).toEqual({ exact1: 2, exact5: 3, family1: 4, family5: 4 });
    expect(keptCeiling(neighbours, labels, label, 1)).toEqual({ exact1: 1, exact5: 1, family1: 1, family5: 1 });
    expect(keptCeiling([[3, 4, 3, 4, 3]], labels, label, 4)).toEqual({ exact1: 0, exact5: 0, family1: 0, family5: 0 });
  });
});
