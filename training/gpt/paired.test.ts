import { describe, expect, it } from "vitest";
import { zeroScores, type Scores } from "./eval-sets";
import { comparePaired, meanScores, pairedDifference } from "./paired";

const s = (exact1: number): Scores => ({ ...zeroScores(), exact1 });

describe("paired differences", () => {
  it("give the mean per-prompt difference and its standard error", () => {
    const a = [0, 0.25, 0.5, 0.5].map(s);
    const b = [0.25, 0.25, 1, 0.5].map(s); // differences 0.25, 0, 0.5, 0: mean 0.1875, sample sd 0.2394
    const { diff, se } = pairedDifference(a, b, "exact1");
    expect(diff).toBeCloseTo(0.1875, 10);
    expect(se).toBeCloseTo(0.23935677693908453 / 2, 10);
    expect(meanScores(b).exact1).toBeCloseTo(0.5, 10);
  });
  it("have no noise when one row is the other shifted, and refuse unpaired rows", () => {
    const a = [0.1, 0.4, 0.9].map(s);
    expect(
      pairedDifference(
        a,
        a.map((x) => s(x.exact1 + 0.05)),
        "exact1",
      ),
    ).toEqual({ diff: expect.closeTo(0.05, 10), se: expect.closeTo(0, 10) });
    expect(() => pairedDifference(a, a.slice(1), "exact1")).toThrow(/same prompts/);
  });
});

describe("comparing two eval:rerank runs", () => {
  const run = (served: number[], off: number[], captions = ["a", "b", "c"]) => {
    const set = { perPrompt: { captions, served: served.map(s), off: off.map(s) } };
    return { sets: { heldout: set, train: set } };
  };
  it("pairs served and first-sampled pictures prompt by prompt", () => {
    const r = comparePaired(run([0, 0.5, 1], [0, 0, 0.25]), run([0.25, 0.5, 1], [0.5, 0.5, 0.75]));
    expect(r.heldout.prompts).toBe(3);
    expect(r.heldout.served.a.exact1).toBeCloseTo(0.5, 10);
    expect(r.heldout.served.bMinusA.exact1.diff).toBeCloseTo(0.25 / 3, 10);
    expect(r.train.off.bMinusA.exact1).toEqual({ diff: expect.closeTo(0.5, 10), se: expect.closeTo(0, 10) });
  });
  it("refuses runs on other prompts", () => {
    expect(() => comparePaired(run([0, 0, 0], [0, 0, 0]), run([0, 0, 0], [0, 0, 0], ["a", "c", "b"]))).toThrow(/prompts differ/);
  });
});
