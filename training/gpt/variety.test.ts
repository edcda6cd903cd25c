// Variety of one prompt's pictures, on synthetic pictures: the numbers the eval chooses the server's sampling
// defaults by (training/gpt/choose-defaults.ts) must be right to the grey level. The pair distance itself is
// tested with its definition (lib/generate/distinct.test.ts).
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { NEAR_COPY_LEVELS } from "../../lib/generate/distinct";
import { selectBackend } from "../../lib/tensor/backend";
import { groupVariety, pooled, tallyGroups, VarietyTally, type Variety } from "./variety";

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
});

const D = 4 * 4 * 3; // a 4×4 RGB picture
const solid = (level: number) => new Float32Array(D).fill(level);
const labels4 = ["a", "a", "a", "a"];

describe("one prompt's pictures", () => {
  it("four identical pictures are a near-copy at distance 0", () => {
    const g = groupVariety([solid(100), solid(100), solid(100), solid(100)], labels4);
    expect(g).toEqual({ pairDistance: 0, maxPairDistance: 0, nearCopy: true, distinctLabels: 1 });
  });

  it("four distinct pictures: the mean over the 6 pairs of different pictures", () => {
    // Pairs 40, 80, 120, 40, 80, 40: 400 / 6. With each picture also compared with itself (10 pairs) it would be
    // 40; divided by n = 4 it would be 100.
    const g = groupVariety([solid(0), solid(40), solid(80), solid(120)], ["a", "b", "c", "a"]);
    expect(g.pairDistance).toBeCloseTo(400 / 6, 10);
    expect(g.maxPairDistance).toBe(120);
    expect(g.nearCopy).toBe(false);
    expect(g.distinctLabels).toBe(3);
  });

  it("is a near-copy only when every pair is within 8 levels, 8 included", () => {
    expect(groupVariety([solid(0), solid(NEAR_COPY_LEVELS), solid(4), solid(2)], labels4).nearCopy).toBe(true);
    // Three identical and one 9 levels off: the mean pair distance is 4.5, but three pairs are 9 apart.
    const g = groupVariety([solid(0), solid(0), solid(0), solid(9)], labels4);
    expect(g.pairDistance).toBe(4.5);
    expect(g.nearCopy).toBe(false);
  });

  it("needs two pictures and a label for each", () => {
    expect(() => groupVariety([solid(0)], ["a"])).toThrow(/at least 2/);
    expect(() => groupVariety([solid(0), solid(1)], ["a"])).toThrow(/labels/);
  });
});

describe("a setting's variety", () => {
  it("near-copy share is 1 for identical pictures, 0 for distinct ones, and averages over prompts", () => {
    const same = new VarietyTally();
    same.add([solid(7), solid(7), solid(7), solid(7)], labels4);
    same.add([solid(200), solid(200), solid(200), solid(200)], labels4);
    expect(same.result()).toEqual({ pairDistance: 0, nearCopyShare: 1, distinctLabels: 1, prompts: 2 });

    const apart = new VarietyTally();
    apart.add([solid(0), solid(40), solid(80), solid(120)], ["a", "b", "c", "d"]);
    apart.add([solid(0), solid(20), solid(40), solid(60)], ["a", "b", "a", "b"]);
    const v = apart.result();
    expect(v.nearCopyShare).toBe(0);
    expect(v.pairDistance).toBeCloseTo((400 / 6 + 200 / 6) / 2, 10);
    expect(v.distinctLabels).toBe(3);

    const mixed = new VarietyTally();
    mixed.add([solid(7), solid(7), solid(7), solid(7)], labels4);
    mixed.add([solid(0), solid(40), solid(80), solid(120)], labels4);
    mixed.add([solid(1), solid(2), solid(3), solid(4)], labels4);
    mixed.add([solid(0), solid(9), solid(0), solid(0)], labels4);
    expect(mixed.result().nearCopyShare).toBe(0.5);
  });

  it("groups decoded pictures prompt-major, as grey levels rounded and clipped like the server's PNGs", () => {
    // 2 prompts × 2 pictures of 2 values in [0, 1]; out-of-range values clip to 0 and 255 as in the PNG.
    const pixels = tf.tensor2d([
      [0, 0],
      [0.02, 0.02], // 5.1 → 5 levels: a near-copy of the first
      [-0.5, 1.5], // → 0, 255
      [1, 0], // → 255, 0: 255 from the one before
    ]);
    const tally = new VarietyTally();
    const nb = [Int32Array.of(0, 1), Int32Array.of(1, 0), Int32Array.of(2, 0), Int32Array.of(2, 1)];
    tallyGroups(tally, pixels, nb, ["x", "y", "z"], 2);
    pixels.dispose();
    expect(tally.result()).toEqual({ pairDistance: (5 + 255) / 2, nearCopyShare: 0.5, distinctLabels: 1.5, prompts: 2 });
  });

  it("pools sets by their prompts", () => {
    const a: Variety = { pairDistance: 10, nearCopyShare: 0, distinctLabels: 4, prompts: 30 };
    const b: Variety = { pairDistance: 30, nearCopyShare: 1, distinctLabels: 2, prompts: 10 };
    expect(pooled([a, b])).toEqual({ pairDistance: 15, nearCopyShare: 0.25, distinctLabels: 3.5, prompts: 40 });
  });
});
