// channelBatchedMatMul must be exactly a batched matMul in its layout, forward and backward, on the depthwise-conv
// route (wasm) and the matMul route (cpu) alike.
import * as tf from "@tensorflow/tfjs";
import { afterAll, describe, expect, it } from "vitest";
import { selectBackend } from "./backend";
import { channelBatchedMatMul } from "./batched-matmul";
import { registerFastGradients } from "./gradients";

const log = { info() {}, warn() {} };
const [M, K, N, P] = [5, 4, 3, 6];

/** Reference: y[m, n, p] = Σ_k x[m, k, n] · f[k, n, p], with plain per-batch matMuls. */
function reference(x: tf.Tensor3D, f: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => {
    const xb = tf.unstack(tf.transpose(x, [2, 0, 1])); // N × [M, K]
    const fb = tf.unstack(tf.transpose(f, [1, 0, 2])); // N × [K, P]
    return tf.transpose(tf.stack(xb.map((a, i) => tf.matMul(a as tf.Tensor2D, fb[i] as tf.Tensor2D))), [1, 0, 2]) as tf.Tensor3D;
  });
}

function maxRel(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / Math.max(1e-12, tf.max(tf.abs(b)).dataSync()[0]));
}

afterAll(async () => {
  await selectBackend({ request: "wasm", log });
});

describe.each(["wasm", "cpu"] as const)("channelBatchedMatMul on %s", (backend) => {
  it("matches per-batch matMuls, and its gradients match theirs", async () => {
    await selectBackend({ request: backend, log });
    registerFastGradients();
    const x = tf.randomNormal([M, K, N], 0, 1, "float32", 1) as tf.Tensor3D;
    const f = tf.randomNormal([K, N, P], 0, 1, "float32", 2) as tf.Tensor3D;
    const r = tf.randomNormal([M, N, P], 0, 1, "float32", 3);
    const y = channelBatchedMatMul(x, f);
    const want = reference(x, f);
    expect(y.shape).toEqual([M, N, P]);
    expect(maxRel(y, want)).toBeLessThan(1e-5);
    // Weighted sums make dy non-uniform, so a transposed gradient cannot pass by symmetry.
    const [gx, gf] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(channelBatchedMatMul(a as tf.Tensor3D, b as tf.Tensor3D), r)))([
      x,
      f,
    ]);
    const [wx, wf] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(reference(a as tf.Tensor3D, b as tf.Tensor3D), r)))([x, f]);
    expect(maxRel(gx, wx)).toBeLessThan(1e-5);
    expect(maxRel(gf, wf)).toBeLessThan(1e-5);
    tf.dispose([x, f, r, y, want, gx, gf, wx, wf]);
  });

  it("rejects operands that do not fit", async () => {
    await selectBackend({ request: backend, log });
    const x = tf.zeros([M, K, N]) as tf.Tensor3D;
    const f = tf.zeros([K + 1, N, P]) as tf.Tensor3D;
    expect(() => channelBatchedMatMul(x, f)).toThrow(/do not fit/);
    tf.dispose([x, f]);
  });
});
