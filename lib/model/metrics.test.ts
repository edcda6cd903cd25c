import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { mulberry32 } from "../data/rng";
import { selectBackend } from "../tensor/backend";
import { batchMetrics, batchMse, batchSsim, CodeStats, gaussianWindow, MetricAccumulator, psnrFromMse } from "./metrics";

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
});

/** Seeded images in [0, 1], so failures reproduce. */
function randomImages(shape: [number, number, number, number], seed: number): Float32Array {
  const rand = mulberry32(seed);
  return Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => rand());
}

const scalar = (t: tf.Scalar): number => {
  const v = t.dataSync()[0];
  t.dispose();
  return v;
};

/** Straightforward SSIM written from the paper's definition: 2-D window, per channel, valid positions, mean. */
function referenceSsim(x: Float32Array, y: Float32Array, [b, h, w, c]: number[], size: number, sigma: number): number {
  const g = gaussianWindow(size, sigma);
  const c1 = 0.01 ** 2;
  const c2 = 0.03 ** 2;
  let sum = 0;
  let n = 0;
  for (let im = 0; im < b; im++) {
    for (let ch = 0; ch < c; ch++) {
      for (let i = 0; i + size <= h; i++) {
        for (let j = 0; j + size <= w; j++) {
          let mx = 0,
            my = 0,
            sxx = 0,
            syy = 0,
            sxy = 0;
          for (let u = 0; u < size; u++) {
            for (let v = 0; v < size; v++) {
              const wt = g[u] * g[v];
              const at = ((im * h + i + u) * w + j + v) * c + ch;
              mx += wt * x[at];
              my += wt * y[at];
              sxx += wt * x[at] * x[at];
              syy += wt * y[at] * y[at];
              sxy += wt * x[at] * y[at];
            }
          }
          const vx = sxx - mx * mx,
            vy = syy - my * my,
            cov = sxy - mx * my;
          sum += ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
          n++;
        }
      }
    }
  }
  return sum / n;
}

describe("MSE and PSNR", () => {
  it("gives 20 dB for an MSE of 0.01, 40 dB for 1e-4, and honours the peak", () => {
    expect(psnrFromMse(0.01)).toBeCloseTo(20, 10);
    expect(psnrFromMse(1e-4)).toBeCloseTo(40, 10);
    expect(psnrFromMse(255 * 255 * 0.01, 255)).toBeCloseTo(20, 10);
    expect(psnrFromMse(0)).toBe(Infinity);
    expect(() => psnrFromMse(-1)).toThrow(RangeError);
  });

  it("matches a hand-computed tiny example", () => {
    // Differences 0, 0.5, 0.25, 0.25 → squares 0, 0.25, 0.0625, 0.0625 → mean 0.09375.
    const x = tf.tensor4d([0, 1, 0.5, 0.25], [1, 2, 2, 1]);
    const y = tf.tensor4d([0, 0.5, 0.25, 0.5], [1, 2, 2, 1]);
    expect(scalar(batchMse(x, y))).toBeCloseTo(0.09375, 6);
    tf.dispose([x, y]);
  });

  it("rejects tensors of different shapes", () => {
    const x = tf.zeros([1, 2, 2, 1]) as tf.Tensor4D;
    const y = tf.zeros([1, 2, 2, 3]) as tf.Tensor4D;
    expect(() => batchMse(x, y)).toThrow(/same shape/);
    expect(() => batchSsim(x, y)).toThrow(/same shape/);
    tf.dispose([x, y]);
  });
});

describe("SSIM", () => {
  it("is 1 for identical images", () => {
    const x = tf.tensor4d(randomImages([2, 32, 32, 3], 1), [2, 32, 32, 3]);
    expect(scalar(batchSsim(x, x))).toBeCloseTo(1, 5);
    x.dispose();
  });

  it("decreases as more noise is added", () => {
    const shape: [number, number, number, number] = [2, 32, 32, 3];
    // A smooth image (gradients), so SSIM is meaningful, with growing seeded noise on top.
    const clean = tf.tidy(() => {
      const ramp = tf.linspace(0, 1, 32);
      const rows = ramp.reshape([1, 32, 1, 1]).tile([2, 1, 32, 1]);
      const cols = ramp.reshape([1, 1, 32, 1]).tile([2, 32, 1, 1]);
      return tf.concat([rows, cols, rows.mul(cols)], 3) as tf.Tensor4D;
    });
    const noise = tf.tensor4d(randomImages(shape, 2), shape).sub(0.5);
    const values = [0.05, 0.1, 0.2, 0.4].map((amount) => {
      const noisy = tf.tidy(() => clean.add(noise.mul(amount)).clipByValue(0, 1) as tf.Tensor4D);
      const s = scalar(batchSsim(clean, noisy));
      noisy.dispose();
      return s;
    });
    for (let i = 1; i < values.length; i++) expect(values[i]).toBeLessThan(values[i - 1]);
    expect(values[0]).toBeLessThan(1);
    tf.dispose([clean, noise]);
  });

  it("is low for an image against a constant image", () => {
    const shape: [number, number, number, number] = [1, 32, 32, 3];
    const x = tf.tensor4d(randomImages(shape, 3), shape);
    const grey = tf.fill(shape, 0.5) as tf.Tensor4D;
    expect(scalar(batchSsim(x, grey))).toBeLessThan(0.05);
    tf.dispose([x, grey]);
  });

  it("matches a plain-JS reference implementation on small images", () => {
    const shape: [number, number, number, number] = [2, 8, 8, 2];
    const xs = randomImages(shape, 4);
    // y = 0.6·x + 0.4·other noise: correlated but different, so every SSIM term matters.
    const other = randomImages(shape, 5);
    const ys = xs.map((v, i) => 0.6 * v + 0.4 * other[i]);
    const x = tf.tensor4d(xs, shape);
    const y = tf.tensor4d(ys, shape);
    for (const [size, sigma] of [
      [5, 1.0],
      [7, 1.5],
      [3, 0.8],
    ]) {
      const expected = referenceSsim(xs, ys, shape, size, sigma);
      expect(scalar(batchSsim(x, y, { windowSize: size, sigma }))).toBeCloseTo(expected, 4);
    }
    tf.dispose([x, y]);
  });

  it("refuses a window larger than the image or of even size", () => {
    const x = tf.zeros([1, 8, 8, 1]) as tf.Tensor4D;
    expect(() => batchSsim(x, x)).toThrow(/does not fit/);
    expect(() => batchSsim(x, x, { windowSize: 4 })).toThrow(/odd/);
    x.dispose();
  });

  it("gaussian window sums to 1 and is symmetric", () => {
    const g = gaussianWindow(11, 1.5);
    expect(g.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    for (let i = 0; i < 5; i++) expect(g[i]).toBeCloseTo(g[10 - i], 7);
    expect(g[5]).toBeGreaterThan(g[4]);
  });
});

describe("MetricAccumulator", () => {
  it("weights batches by size and reports the PSNR of the mean MSE", () => {
    const acc = new MetricAccumulator();
    expect(acc.mse()).toBeNaN();
    acc.add(3, 0.01, 0.9);
    acc.add(1, 0.05, 0.5);
    expect(acc.count).toBe(4);
    expect(acc.mse()).toBeCloseTo(0.02, 12);
    expect(acc.ssim()).toBeCloseTo(0.8, 12);
    expect(acc.psnr()).toBeCloseTo(psnrFromMse(0.02), 12);
    expect(acc.summary()).toMatchObject({ count: 4 });
    expect(() => acc.add(0, 0.1, 0.1)).toThrow(RangeError);
    expect(() => acc.add(1, NaN, 0.1)).toThrow(RangeError);
  });
});

describe("CodeStats", () => {
  it("reports usage 0.5 and perplexity 4 for uniform use of 4 of 8 codes", () => {
    const stats = new CodeStats(8);
    stats.add(Int32Array.from([0, 2, 4, 6, 0, 2]));
    stats.add([4, 6]);
    expect(stats.count).toBe(8);
    expect(stats.usage()).toBe(0.5);
    expect(stats.perplexity()).toBeCloseTo(4, 10);
    expect(stats.bitsPerImage(8, 8)).toBe(64 * 3);
    expect([...stats.histogram()]).toEqual([2, 0, 2, 0, 2, 0, 2, 0]);
  });

  it("gives perplexity 1 for a collapsed codebook and rejects codes out of range", () => {
    const stats = new CodeStats(512);
    expect(stats.perplexity()).toBeNaN();
    stats.add(new Array(100).fill(7));
    expect(stats.perplexity()).toBeCloseTo(1, 12);
    expect(stats.usage()).toBe(1 / 512);
    expect(stats.bitsPerImage(8, 8)).toBe(64 * 9);
    expect(() => stats.add([512])).toThrow(RangeError);
    expect(() => stats.add([1.5])).toThrow(RangeError);
  });
});

describe("tensor hygiene", () => {
  it("leaks no tensors", () => {
    const shape: [number, number, number, number] = [2, 16, 16, 3];
    const x = tf.tensor4d(randomImages(shape, 6), shape);
    const y = tf.tensor4d(randomImages(shape, 7), shape);
    const before = tf.memory().numTensors;
    const m = batchMetrics(x, y, { windowSize: 7 });
    scalar(batchMse(x, y));
    scalar(batchSsim(x, y, { windowSize: 7 }));
    expect(tf.memory().numTensors).toBe(before);
    expect(m.mse).toBeGreaterThan(0);
    expect(m.ssim).toBeLessThan(0.5);
    tf.dispose([x, y]);
  });
});
