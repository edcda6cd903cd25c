// How far apart two pictures are: the one definition the server's rerank keeps its pictures apart by and the eval
// counts near-copies by, so it must be right to the grey level.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../tensor/backend";
import { pairDistance, toLevels } from "./distinct";

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
});

const D = 4 * 4 * 3; // a 4×4 RGB picture
const solid = (level: number) => new Float32Array(D).fill(level);

describe("pair distance", () => {
  it("is the mean absolute difference in grey levels over every value", () => {
    expect(pairDistance(solid(0), solid(10))).toBe(10);
    // Half the values 20 apart: the mean is over all D values, not over the differing ones.
    const half = solid(0).map((_, i) => (i < D / 2 ? 20 : 0));
    expect(pairDistance(solid(0), half)).toBe(10);
    // Differences of both signs add up instead of cancelling.
    expect(pairDistance(Float32Array.of(0, 20), Float32Array.of(20, 0))).toBe(20);
    expect(pairDistance(solid(30), solid(5))).toBe(pairDistance(solid(5), solid(30)));
  });

  it("refuses pictures of different sizes", () => {
    expect(() => pairDistance(solid(0), new Float32Array(D - 1))).toThrow(/cannot be compared/);
  });
});

describe("grey levels", () => {
  it("reads pictures [N, S, S, 3] in [0, 1] as N rows of levels, rounded then clipped like the server's PNGs", () => {
    // 2 pictures of 1×1×3: 0.02 → 5.1 → 5; 0.25 → 63.75 → 64; out of range clips to 0 and 255.
    const pixels = tf.tensor4d([0.02, 0.25, 1, -0.5, 1.5, 0.1], [2, 1, 1, 3]);
    const rows = toLevels(pixels);
    pixels.dispose();
    expect(rows.map((r) => Array.from(r))).toEqual([
      [5, 64, 255],
      [0, 255, 26],
    ]);
  });
});
