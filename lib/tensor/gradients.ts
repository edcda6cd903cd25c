// Gradients for BatchMatMul, Conv2D and GatherV2 built only from ops that are fast on every backend we use, and a
// correct one for MirrorPad.
//
// Why: on the wasm backend the stock gradients either do not run at all (Conv2D's filter gradient needs
// Conv2DBackpropFilter and gather's needs UnsortedSegmentSum, neither registered for wasm) or run on slow paths
// (matMul with transposeA ~0.6 GFLOP/s, transposeB ~2.3, conv2dTranspose ~2.7, against ~30 for a plain 2-D
// matMul or a stride-1 conv2d on XNNPACK). The replacements below use explicit transposes followed by plain
// matMul / conv2d. registerGradient is global, so they apply on every backend; on cpu/webgpu they are merely
// equivalent.
//
// MirrorPad: tfjs 4.22's stock rule (tfjs-core/src/gradients/MirrorPad_grad.ts) only slices the interior out of dy,
// dropping the gradient of every padded copy, so an edge-padded model ("symmetric" pad 1) got a wrong gradient at
// its borders on every tfjs backend. The rule below sums each copy back onto the pixel it copies; it is checked
// against finite differences and against the native graph's Pad rule (lib/model/onnx/vq-training-graph.test.ts).
import * as tf from "@tensorflow/tfjs";

type Pads = [top: number, bottom: number, left: number, right: number];
type ExplicitPadding = [[number, number], [number, number], [number, number], [number, number]];

/**
 * A float32 one-hot. On wasm, `tf.oneHot(idx, K, 1, 0, "float32")` writes int32 bits into a float buffer (a 1
 * reads back as 1.4e-45), so the one-hot is built as int32 and cast instead.
 */
export function oneHotFloat(indices: tf.Tensor, depth: number): tf.Tensor {
  return tf.tidy(() => {
    const idx = indices.dtype === "int32" ? indices : tf.cast(indices, "int32");
    return tf.cast(tf.oneHot(idx as tf.Tensor1D, depth), "float32");
  });
}

/** Swaps the last two axes (explicitly, so the following matMul needs no transpose flag). */
function swapLast(t: tf.Tensor): tf.Tensor {
  const perm = t.shape.map((_, i) => i);
  const r = t.rank;
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return tf.transpose(t, perm);
}

const batchMatMulGrad: tf.GradConfig = {
  kernelName: "BatchMatMul",
  inputsToSave: ["a", "b"],
  gradFunc: (dy, saved, attrs) => {
    const [a, b] = saved;
    const g = dy as tf.Tensor;
    const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const batchA = a.shape.slice(0, -2).join(",");
    const batchB = b.shape.slice(0, -2).join(",");
    if (batchA !== batchB) {
      throw new Error(
        `fast BatchMatMul gradient: batch dims differ (a [${a.shape}], b [${b.shape}]); broadcasting matMul ` +
          "is not supported — tile or reshape the operands so their leading dims match",
      );
    }
    const T = swapLast;
    const mm = (x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y);
    // C = op(A)·op(B): dA = dC·op(B)ᵀ and dB = op(A)ᵀ·dC, transposed back where op was a transpose.
    if (!transposeA && !transposeB) return { a: () => mm(g, T(b)), b: () => mm(T(a), g) };
    if (!transposeA && transposeB) return { a: () => mm(g, b), b: () => mm(T(g), a) };
    if (transposeA && !transposeB) return { a: () => mm(b, T(g)), b: () => mm(a, g) };
    return { a: () => mm(T(b), T(g)), b: () => mm(T(g), T(a)) };
  },
};

function pair(v: unknown): [number, number] {
  if (typeof v === "number") return [v, v];
  const arr = v as number[];
  return [arr[0], arr[arr.length === 1 ? 0 : 1]];
}

/** Padding (top, bottom, left, right) a stride-1 conv2d applies, or null when it cannot be read. */
function stride1Pads(pad: unknown, kh: number, kw: number): Pads | null {
  if (pad === "valid") return [0, 0, 0, 0];
  if (pad === "same") {
    // tfjs 'same' at stride 1 pads k-1 in total, the odd one at the bottom/right.
    const t = Math.floor((kh - 1) / 2);
    const l = Math.floor((kw - 1) / 2);
    return [t, kh - 1 - t, l, kw - 1 - l];
  }
  if (typeof pad === "number") return [pad, pad, pad, pad];
  if (Array.isArray(pad) && pad.length === 4) {
    const [, [t, b], [l, r]] = pad as number[][];
    return [t, b, l, r];
  }
  return null;
}

function explicit([t, b, l, r]: Pads): ExplicitPadding {
  return [
    [0, 0],
    [t, b],
    [l, r],
    [0, 0],
  ];
}

const state = globalThis as unknown as {
  tesseraFastGradients?: { stockConv2D: tf.GradConfig; stockMirrorPad: tf.GradConfig };
};

const conv2dGrad: tf.GradConfig = {
  kernelName: "Conv2D",
  inputsToSave: ["x", "filter"],
  gradFunc: (dy, saved, attrs) => {
    const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
    const g = dy as tf.Tensor4D;
    const { strides, dilations, pad, dataFormat } = attrs as Record<string, unknown>;
    const [kh, kw] = filter.shape;
    const pads = stride1Pads(pad, kh, kw);
    const fast =
      (dataFormat ?? "NHWC") === "NHWC" &&
      pair(strides).every((s) => s === 1) &&
      pair(dilations ?? 1).every((d) => d === 1) &&
      pads !== null &&
      pads.every((p, i) => p >= 0 && p <= (i < 2 ? kh : kw) - 1);
    if (!fast || pads === null) {
      // Stock math (conv2DBackpropInput / conv2DBackpropFilter). The latter is missing on wasm: say why.
      if (tf.getBackend() === "wasm") {
        throw new Error(
          "fast Conv2D gradient supports only NHWC, stride 1, dilation 1 and padding within the kernel; got " +
            `strides=${JSON.stringify(strides)} dilations=${JSON.stringify(dilations)} ` +
            `pad=${JSON.stringify(pad)} dataFormat=${String(dataFormat)}, and the wasm backend has no ` +
            "Conv2DBackpropFilter kernel for the general case",
        );
      }
      return state.tesseraFastGradients!.stockConv2D.gradFunc(dy, saved, attrs);
    }
    const [pt, pb, pl, pr] = pads;
    return {
      // dx[i] = Σ_k dy[i + pt − k]·W[k]: a stride-1 conv of dy with the filter rotated 180° and its in/out channels
      // swapped, padded so the output has x's size.
      x: () => {
        const rotated = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]);
        return tf.conv2d(g, rotated as tf.Tensor4D, 1, explicit([kh - 1 - pt, kh - 1 - pb, kw - 1 - pl, kw - 1 - pr]));
      },
      // dW[u,v,c,o] = Σ_{b,i,j} xPad[b,i+u,j+v,c]·dy[b,i,j,o]: a conv whose "batch" is Ci, "channels" are B, and
      // whose kernel is dy itself, so the batch becomes the contraction axis.
      filter: () => {
        const xT = tf.transpose(x, [3, 1, 2, 0]) as tf.Tensor4D; // [Ci, H, W, B]
        const gT = tf.transpose(g, [1, 2, 0, 3]) as tf.Tensor4D; // [Ho, Wo, B, Co]
        const dW = tf.conv2d(xT, gT, 1, explicit(pads)); // [Ci, kh, kw, Co]
        return tf.transpose(dW, [1, 2, 0, 3]);
      },
    };
  },
};

/** Above this many one-hot elements the gather gradient is summed over row chunks, to bound memory. */
const ONE_HOT_CHUNK_ELEMENTS = 1 << 24;

const gatherGrad: tf.GradConfig = {
  kernelName: "GatherV2",
  inputsToSave: ["x", "indices"],
  gradFunc: (dy, saved, attrs) => {
    const [x, indices] = saved;
    const { axis, batchDims } = attrs as unknown as { axis: number; batchDims: number };
    if ((axis !== 0 && axis !== -x.rank) || (batchDims ?? 0) !== 0) {
      throw new Error(
        `fast GatherV2 gradient supports only axis 0 with batchDims 0 (an embedding lookup); got axis=${axis} ` +
          `batchDims=${batchDims} on x [${x.shape}] (the stock gradient needs UnsortedSegmentSum, missing on wasm)`,
      );
    }
    return {
      // dx = one_hot(indices)ᵀ · dy: a plain matMul in place of the segment sum.
      x: () => {
        const depth = x.shape[0];
        const n = indices.size;
        const width = x.size / depth;
        const flatIdx = tf.reshape(indices, [n]);
        const flatDy = tf.reshape(dy as tf.Tensor, [n, width]);
        const rows = Math.max(1, Math.floor(ONE_HOT_CHUNK_ELEMENTS / depth));
        let dx: tf.Tensor | null = null;
        for (let start = 0; start < n; start += rows) {
          const size = Math.min(rows, n - start);
          const part = tf.matMul(
            tf.transpose(oneHotFloat(tf.slice(flatIdx, [start], [size]), depth)),
            tf.slice(flatDy, [start, 0], [size, width]),
          );
          dx = dx === null ? part : tf.add(dx, part);
        }
        return tf.reshape(dx ?? tf.zeros([depth, width]), x.shape);
      },
      // Integer indices carry no gradient (the tape normally prunes them; this only keeps the map complete).
      indices: () => tf.zeros(indices.shape, "float32"),
    };
  },
};

/**
 * MirrorPad's gradient with each padded copy's gradient summed back onto the pixel it copies, axis by axis:
 * "symmetric" copies x[before − 1 − i] to the i-th padded row (the border pixel itself first), "reflect" starts one
 * pixel inside (x[before − i]).
 */
const mirrorPadGrad: tf.GradConfig = {
  kernelName: "MirrorPad",
  inputsToSave: ["x"],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved;
    const { paddings, mode } = attrs as unknown as { paddings: [number, number][]; mode: "reflect" | "symmetric" };
    const off = mode === "symmetric" ? 0 : 1;
    const grad = () => {
      let d = dy as tf.Tensor;
      x.shape.forEach((n, axis) => {
        const [before, after] = paddings[axis];
        const rows = (start: number, size: number) =>
          tf.slice(
            d,
            d.shape.map((_, i) => (i === axis ? start : 0)),
            d.shape.map((s, i) => (i === axis ? size : s)),
          );
        // A reversed padded block placed (zeros around it) over the rows it copies.
        const onto = (block: tf.Tensor, lo: number, hi: number) =>
          tf.pad(
            tf.reverse(block, axis),
            block.shape.map((_, i): [number, number] => (i === axis ? [lo, hi] : [0, 0])),
          );
        let next = rows(before, n);
        if (before) next = tf.add(next, onto(rows(0, before), off, n - off - before));
        if (after) next = tf.add(next, onto(rows(before + n, after), n - off - after, off));
        d = next;
      });
      return d;
    };
    return { x: grad };
  },
};

/** tfjs's own MirrorPad gradient, kept so a test can show what the replacement fixes (null before registering). */
export function stockMirrorPadGradient(): tf.GradConfig | null {
  return state.tesseraFastGradients?.stockMirrorPad ?? null;
}

/** Registers the fast gradients once per process (idempotent). Call before training on any backend; harmless on cpu/webgpu. */
export function registerFastGradients(): void {
  // On globalThis: bundlers may load this module more than once, and a second copy must not mistake the first
  // copy's override for the stock Conv2D gradient it falls back to.
  if (state.tesseraFastGradients) return;
  state.tesseraFastGradients = { stockConv2D: tf.getGradient("Conv2D"), stockMirrorPad: tf.getGradient("MirrorPad") };
  for (const config of [batchMatMulGrad, conv2dGrad, gatherGrad, mirrorPadGrad]) tf.registerGradient(config);
}
