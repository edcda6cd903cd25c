// A batched matMul in the layout attention can produce for free, fast on wasm.
//
// Why: tfjs-backend-wasm runs a 2-D matMul on XNNPACK (~30 GFLOP/s) but any batched (rank-3) matMul on a plain
// loop (~1–2 GFLOP/s), and attention is made of batched matMuls ([B·H, L, hd] × [B·H, hd, L] and back): in a
// training step of the default GPT they took ~40 % of the time. Splitting into B·H 2-D matMuls is worse (each
// call builds an XNNPACK operator, ~3 ms). But a depthwise conv is a batched contraction in disguise: with the
// batch on the channel axis, the contraction on the kernel's width and the output columns as the channel
// multiplier, XNNPACK runs it as a grouped GEMM, 3–5× faster than the batched matMul kernel.
//
//   y[m, n, p] = Σ_k x[m, k, n] · f[k, n, p]        (n: the batch, e.g. b·H + h)
//
// is depthwiseConv2d(x as [1, M, K, N], f as [1, K, N, P], 'valid') → [1, M, 1, N·P]. Its gradients are the same
// op again, so training needs no kernel that wasm lacks (DepthwiseConv2dNativeBackprop* are not registered there).
// On other backends (webgpu, cpu) the same maths runs as a transpose + batched matMul, which is their fast path.
import * as tf from "@tensorflow/tfjs";

/** True where the depthwise-conv route is the fast one (wasm); elsewhere batched matMul is. */
function useDepthwise(): boolean {
  return tf.getBackend() === "wasm";
}

function forward(x: tf.Tensor3D, f: tf.Tensor3D): tf.Tensor3D {
  const [m, k, n] = x.shape;
  const p = f.shape[2];
  if (f.shape[0] !== k || f.shape[1] !== n)
    throw new Error(`channelBatchedMatMul: x [${x.shape}] and f [${f.shape}] do not fit ([M, K, N] and [K, N, P])`);
  if (useDepthwise()) {
    const y = tf.depthwiseConv2d(tf.reshape(x, [1, m, k, n]) as tf.Tensor4D, tf.reshape(f, [1, k, n, p]) as tf.Tensor4D, 1, "valid"); // [1, M, 1, N·P]
    return tf.reshape(y, [m, n, p]); // [M, N, P]
  }
  const xb = tf.transpose(x, [2, 0, 1]) as tf.Tensor3D; // [N, M, K]
  const fb = tf.transpose(f, [1, 0, 2]) as tf.Tensor3D; // [N, K, P]
  return tf.transpose(tf.matMul(xb, fb), [1, 0, 2]) as tf.Tensor3D; // [N, M, P] → [M, N, P]
}

const op = tf.customGrad(((x: tf.Tensor3D, f: tf.Tensor3D, save: tf.GradSaveFunc) => {
  save([x, f]);
  return {
    value: forward(x, f),
    gradFunc: (dy: tf.Tensor3D, saved: tf.Tensor[]) => {
      const [xs, fs] = saved as [tf.Tensor3D, tf.Tensor3D];
      // dx[m, k, n] = Σ_p dy[m, n, p] · f[k, n, p]: the op on dy [M, P, N] and f [P, N, K], giving [M, N, K].
      const dx = tf.transpose(forward(tf.transpose(dy, [0, 2, 1]) as tf.Tensor3D, tf.transpose(fs, [2, 1, 0]) as tf.Tensor3D), [0, 2, 1]);
      // df[k, n, p] = Σ_m x[m, k, n] · dy[m, n, p]: the op on x [K, M, N] and dy itself, giving [K, N, P].
      const df = forward(tf.transpose(xs, [1, 0, 2]) as tf.Tensor3D, dy);
      return [dx, df];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor3D, f: tf.Tensor3D) => tf.Tensor3D;

/** y[m, n, p] = Σ_k x[m, k, n] · f[k, n, p]: x [M, K, N], f [K, N, P] → [M, N, P], differentiable. */
export function channelBatchedMatMul(x: tf.Tensor3D, f: tf.Tensor3D): tf.Tensor3D {
  return op(x, f);
}
