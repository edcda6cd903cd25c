import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../../lib/tensor/backend";
import { AdamW, clipByGlobalNorm } from "./adamw";
import { cosineAnneal, learningRate } from "./schedule";

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
});

describe("AdamW", () => {
  it("takes a first step of size lr in the gradient's sign direction (bias-corrected Adam)", () => {
    const w = tf.variable(tf.tensor1d([1, -1]));
    const opt = new AdamW(new Map([["w", w]]));
    opt.apply({ w: tf.tensor1d([0.5, -3]) }, 0.1);
    const [a, b] = w.dataSync();
    expect(a).toBeCloseTo(0.9, 5);
    expect(b).toBeCloseTo(-0.9, 5);
    opt.dispose();
  });

  it("minimises a quadratic, decays only selected weights, and restores its state", () => {
    const w = tf.variable(tf.tensor1d([3]));
    const b = tf.variable(tf.tensor1d([3]));
    const opt = new AdamW(
      new Map([
        ["w", w],
        ["b", b],
      ]),
      { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.5, decays: (n) => n === "w" },
    );
    for (let i = 0; i < 300; i++) {
      const { grads } = tf.variableGrads(() => tf.sum(tf.square(tf.sub(tf.add(w, b), 2))) as tf.Scalar, [w, b]);
      opt.apply({ w: grads[w.name], b: grads[b.name] }, 0.05);
      tf.dispose(Object.values(grads));
    }
    expect(w.dataSync()[0] + b.dataSync()[0]).toBeCloseTo(2, 1);
    // Decay pulls w towards 0, so b carries most of the sum.
    expect(Math.abs(w.dataSync()[0])).toBeLessThan(Math.abs(b.dataSync()[0]));
    const copy = new AdamW(
      new Map([
        ["w", w],
        ["b", b],
      ]),
    );
    copy.restore(opt.state(), opt.step);
    expect(copy.step).toBe(300);
    expect(copy.state().get("m/w")!.dataSync()[0]).toBe(opt.state().get("m/w")!.dataSync()[0]);
    expect(() => copy.restore(new Map(), 1)).toThrow(/optimizer state has no m\/w/);
    opt.dispose();
    copy.dispose();
  });

  it("clips gradients to a global norm", async () => {
    const { grads, norm } = await clipByGlobalNorm({ a: tf.tensor1d([3]), b: tf.tensor1d([4]) }, 1);
    expect(norm).toBeCloseTo(5, 5);
    expect(grads.a.dataSync()[0]).toBeCloseTo(0.6, 5);
    expect(grads.b.dataSync()[0]).toBeCloseTo(0.8, 5);
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
