import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../../lib/tensor/backend";
import { FlatAdamW, globalNorm, type ParamLayout } from "./flat-adamw";
import { cosineAnneal, learningRate } from "./schedule";

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
});

const layout = (sizes: Record<string, number>): ParamLayout => {
  const names = Object.keys(sizes);
  return { names, shapes: names.map((n) => [sizes[n]]), sizes: names.map((n) => sizes[n]), total: names.reduce((a, n) => a + sizes[n], 0) };
};

describe("AdamW on flat parameters", () => {
  it("takes a first step of size lr in the gradient's sign direction (bias-corrected Adam)", () => {
    const theta = Float32Array.of(1, -1);
    const opt = new FlatAdamW(layout({ w: 2 }));
    opt.apply(theta, Float32Array.of(0.5, -3), 0.1);
    expect(theta[0]).toBeCloseTo(0.9, 5);
    expect(theta[1]).toBeCloseTo(-0.9, 5);
  });

  it("minimises a quadratic, decays only selected weights, and restores its state", () => {
    // θ = [w, b]; loss (w + b − 2)²; decay on w only pulls w towards 0, so b carries most of the sum.
    const theta = Float32Array.of(3, 3);
    const opt = new FlatAdamW(layout({ w: 1, b: 1 }), {
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-8,
      weightDecay: 0.5,
      decays: (n) => n === "w",
    });
    for (let i = 0; i < 300; i++) {
      const g = 2 * (theta[0] + theta[1] - 2);
      opt.apply(theta, Float32Array.of(g, g), 0.05);
    }
    expect(theta[0] + theta[1]).toBeCloseTo(2, 1);
    expect(Math.abs(theta[0])).toBeLessThan(Math.abs(theta[1]));
    const copy = new FlatAdamW(layout({ w: 1, b: 1 }));
    copy.restore(opt.state(), opt.step);
    expect(copy.step).toBe(300);
    expect(Array.from(copy.m)).toEqual(Array.from(opt.m));
    expect(Array.from(copy.v)).toEqual(Array.from(opt.v));
    expect(() => copy.restore(new Map(), 1)).toThrow(/optimizer state has no m\/w/);
    expect(() => copy.restore(new Map([["m/w", tf.zeros([2])]]), 1)).toThrow(/has 2 values, the model 1/);
    opt.dispose();
    copy.dispose();
  });

  it("applies clipping's gradScale inside the update exactly as a gradient scaled beforehand", () => {
    // Adam is invariant to one constant scale over every step, so the scale differs between steps here (clipping's
    // factor changes with the norm): the moments must see the scaled gradients.
    const grads = [Float32Array.of(2, -4, 0.5), Float32Array.of(1, 8, -0.25), Float32Array.of(-2, 4, 1)];
    const scales = [1, 0.25, 0.5];
    const fused = Float32Array.of(1, 2, 3);
    const before = Float32Array.of(1, 2, 3);
    const a = new FlatAdamW(layout({ w: 3 }), { beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1 });
    const b = new FlatAdamW(layout({ w: 3 }), { beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1 });
    grads.forEach((g, i) => {
      a.apply(fused, g, 0.1, scales[i]);
      b.apply(
        before,
        g.map((x) => x * scales[i]),
        0.1,
      );
    });
    for (let i = 0; i < 3; i++) expect(fused[i]).toBeCloseTo(before[i], 6);
    expect(Array.from(a.v)).toEqual(Array.from(b.v));
    a.dispose();
    b.dispose();
  });

  it("refuses arrays that do not match its layout, and measures the global norm", () => {
    const opt = new FlatAdamW(layout({ w: 2 }));
    expect(() => opt.apply(new Float32Array(3), new Float32Array(3), 0.1)).toThrow(/3 parameters and 3 gradients for a layout of 2/);
    expect(globalNorm(Float32Array.of(3, 4))).toBeCloseTo(5, 6);
  });
});

describe("schedules", () => {
  const s = { peak: 1e-3, warmupSteps: 10, floor: 0.1 };
  it("warms up linearly, then decays by cosine to the floor", () => {
    expect(learningRate(s, 0, 0)).toBeCloseTo(1e-4, 10);
    expect(learningRate(s, 9, 0)).toBeCloseTo(1e-3, 10);
    expect(learningRate(s, 100, 0)).toBeCloseTo(1e-3, 10);
    expect(learningRate(s, 100, 0.5)).toBeCloseTo(0.55e-3, 10);
    expect(learningRate(s, 100, 1)).toBeCloseTo(1e-4, 10);
  });
  it("anneals the Gumbel temperature from 1 to 1/16", () => {
    expect(cosineAnneal(1, 1 / 16, 0)).toBe(1);
    expect(cosineAnneal(1, 1 / 16, 1)).toBeCloseTo(1 / 16, 10);
    expect(cosineAnneal(1, 1 / 16, 2)).toBeCloseTo(1 / 16, 10);
  });
});
