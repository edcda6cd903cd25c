// The maths of the two bottlenecks, checked against hand-computed values and closed forms.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../tensor/backend";
import { registerFastGradients } from "../tensor/gradients";
import { gumbelSoftmax, klToUniform } from "./gumbel-quantizer";
import { straightThrough, stopGradient } from "./layers";
import { emaStep, pairwiseSqDist } from "./vector-quantizer";

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  registerFastGradients();
});

describe("straight-through estimator", () => {
  it("forwards the quantized value and passes the gradient w.r.t. z_e through unchanged", () => {
    const ze = tf.tensor2d([
      [0.3, -1.2],
      [2.0, 0.5],
    ]);
    const zq = tf.tensor2d([
      [0, -1],
      [2, 1],
    ]);
    const upstream = tf.tensor2d([
      [1, 2],
      [3, 4],
    ]);
    const grad = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(straightThrough(x, zq), upstream)))(ze);
    expect(straightThrough(ze, zq).arraySync()).toEqual(zq.arraySync());
    // d(sum(upstream ⊙ st(z_e)))/dz_e = upstream: the Jacobian is the identity.
    expect(grad.arraySync()).toEqual(upstream.arraySync());
  });

  it("stopGradient blocks the gradient", () => {
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.add(tf.mul(stopGradient(x), 5), x)))(tf.tensor1d([1, 2]));
    expect(g.arraySync()).toEqual([1, 1]);
  });
});

describe("VQ codebook", () => {
  it("finds squared distances to every code", () => {
    const d = pairwiseSqDist(
      tf.tensor2d([
        [0, 0],
        [1, 1],
      ]),
      tf.tensor2d([
        [1, 0],
        [3, 1],
      ]),
    );
    expect(d.arraySync()).toEqual([
      [1, 10],
      [1, 4],
    ]);
  });

  it("makes an EMA update that matches a hand-computed example", () => {
    // K = 2 codes, D = 2. Vectors [1,0] and [3,0] go to code 0; code 1 gets nothing.
    const state = {
      count: tf.tensor1d([1, 1]),
      sum: tf.tensor2d([
        [0, 0],
        [1, 1],
      ]),
    };
    const next = emaStep(
      state,
      tf.tensor2d([
        [1, 0],
        [3, 0],
      ]),
      tf.tensor1d([0, 0], "int32"),
      0.5,
    );
    // N = 0.5·[1,1] + 0.5·[2,0] = [1.5, 0.5]; m = 0.5·[[0,0],[1,1]] + 0.5·[[4,0],[0,0]] = [[2,0],[0.5,0.5]]
    expect(next.count.arraySync()).toEqual([1.5, 0.5]);
    expect(next.sum.arraySync()).toEqual([
      [2, 0],
      [0.5, 0.5],
    ]);
    // Laplace smoothing with ε = 1e-5 barely moves N̂: e_0 = [2,0]/1.5, e_1 = [0.5,0.5]/0.5.
    const e = next.embedding.arraySync();
    expect(e[0][0]).toBeCloseTo(4 / 3, 4);
    expect(e[0][1]).toBeCloseTo(0, 6);
    expect(e[1][0]).toBeCloseTo(1, 4);
  });
});

describe("Gumbel-softmax", () => {
  const logits = tf.tensor2d([[2, 0.5, -1, 0]]);

  it("draws samples that sum to 1", () => {
    const y = gumbelSoftmax(tf.tile(logits, [64, 1]) as tf.Tensor2D, 1, false, 7);
    for (const s of tf.sum(y, 1).arraySync() as number[]) expect(s).toBeCloseTo(1, 5);
  });

  it("approaches one-hot as τ → 0", () => {
    const maxOf = (tau: number) => tf.mean(tf.max(gumbelSoftmax(tf.tile(logits, [256, 1]) as tf.Tensor2D, tau, false, 3), 1)).dataSync()[0];
    const [hot, warm, cold] = [maxOf(1), maxOf(1 / 16), maxOf(0.001)];
    expect(hot).toBeLessThan(0.9);
    expect(warm).toBeGreaterThan(hot);
    expect(warm).toBeGreaterThan(0.95);
    expect(cold).toBeGreaterThan(warm);
    expect(cold).toBeGreaterThan(0.999);
  });

  it("draws hard samples with the frequencies of softmax(logits)", () => {
    const n = 20_000;
    const y = gumbelSoftmax(tf.tile(logits, [n, 1]) as tf.Tensor2D, 1, true, 11);
    const freq = tf.div(tf.sum(y, 0), n).arraySync() as number[];
    const p = tf.softmax(logits).arraySync()[0] as number[];
    // 4 standard errors of a binomial proportion: fails by chance with probability < 1e-4 per code.
    p.forEach((pk, k) => expect(Math.abs(freq[k] - pk)).toBeLessThan(4 * Math.sqrt((pk * (1 - pk)) / n)));
    for (const row of (y.arraySync() as number[][]).slice(0, 50)) expect([...row].sort()).toEqual([0, 0, 0, 1]);
  });

  it("gives KL to the uniform prior in closed form", () => {
    const q = [0.7, 0.2, 0.1];
    const closed = q.reduce((s, x) => s + x * Math.log(x), 0) + Math.log(3);
    expect(klToUniform(tf.log(tf.tensor2d([q])) as tf.Tensor2D).dataSync()[0]).toBeCloseTo(closed, 5);
    expect(klToUniform(tf.zeros([2, 5]) as tf.Tensor2D).dataSync()[0]).toBeCloseTo(0, 6);
  });
});
