// Vector–Jacobian products of the convolution family (dispatched from ./vjp.ts): Conv and ConvTranspose (group 1,
// any strides, pads and dilations; checked in 1-D and 2-D), DepthToSpace and SpaceToDepth, and Pad's "edge" mode.
// Semantics are the ONNX operator spec's at opset 17 (https://onnx.ai/onnx/operators/); every rule is checked
// against central finite differences in vjp.test.ts.
//
// Conv and ConvTranspose with the same W, strides, pads and dilations are each other's adjoint as linear maps of
// their input (ConvTranspose is "the gradient of some convolution with respect to its input": Dumoulin & Visin 2016,
// "A guide to convolution arithmetic", §4). So each one's input gradient is the other, with no kernel flip written
// out: the flip of the textbook "full convolution with the rotated kernel" is what the adjoint does implicitly. Both weight gradients are
// one Conv in which the batch is the contraction axis (input and output gradient transposed [N, C] → [C, N]); the
// forward's stride becomes that Conv's dilation and the forward's dilation its stride. Two stride-1 cases take
// faster forms of the same sums on ONNX Runtime's CPU kernels: a Conv's weight gradient as one Gemm over the
// kernel's taps (weightGradByTaps), and its input gradient into few channels as a Conv (inputGradAsConv).
import type { VjpContext } from "./autodiff";
import type { Shape } from "./shapes";
import { attrInt, attrString, convGeometry, convTransposeOutSize, type ConvGeometry } from "./shapes-conv";

type Grads = (string | undefined)[];

export function convFamilyVjp(c: VjpContext, dys: Grads): Grads {
  const dy = dys[0];
  const only = (fn: (dy: string) => string): Grads => (dy && c.wants(0) ? [fn(dy)] : []);
  switch (c.node.opType) {
    case "Conv":
    case "ConvTranspose":
      return dy ? convVjp(c, dy) : [];
    case "DepthToSpace":
      return only((d) => depthToSpaceGrad(c, d));
    case "SpaceToDepth": {
      const b = attrInt(c.node.attributes, "blocksize", 0);
      // SpaceToDepth is exactly the inverse of DepthToSpace in DCR mode (the spec's reference implementations are
      // the same reshape–transpose–reshape read in reverse), and a permutation's adjoint is its inverse.
      const mode = c.planted?.depthToSpaceMode ? "CRD" : "DCR"; // planted: undone with the other mode
      return only((d) => c.g.op("DepthToSpace", [d], { blocksize: { i: b }, mode: { s: mode } }));
    }
    default:
      throw new Error(`autodiff: no gradient rule for ${c.node.opType} (${c.node.name})`);
  }
}

/** [a, b, ...] ↔ [b, a, ...]: batch and channel axes swapped. */
function swapNC(c: VjpContext, v: string): string {
  const perm = c.shape(v).map((_, i) => i);
  [perm[0], perm[1]] = [1, 0];
  return c.g.op("Transpose", [v], { perm: { ints: perm } });
}

function convVjp(c: VjpContext, dy: string): Grads {
  const { g, node } = c;
  const [x, w, b] = node.inputs;
  const sx = c.shape(x);
  const k = c.shape(w).slice(2);
  const spatial = k.map((_, i) => i + 2);
  const a = convGeometry(node.attributes, k.length);
  if (a.group !== 1) throw new Error(`autodiff: ${node.opType} with group ${a.group} (group 1 only)`);
  const geometry = { strides: { ints: a.strides }, pads: { ints: a.pads }, dilations: { ints: a.dilations } };
  let dx: string | undefined;
  let dw: string | undefined;
  if (node.opType === "Conv") {
    const outChannels = c.shape(w)[0];
    if (c.wants(0)) {
      // Conv's output size floors, so up to stride − 1 trailing input rows are never read; output_padding restores
      // them (as zeros) so ConvTranspose returns exactly the input's shape.
      const sy = c.shape(dy);
      const zero = { ...a, outputPadding: k.map(() => 0) };
      const outputPadding = k.map((kk, i) => sx[i + 2] - convTransposeOutSize(zero, i, sy[i + 2], kk));
      const asConv = unitStride(a) && outChannels < GEMM_MIN_CHANNELS && a.pads.every((p, i) => p <= k[i % k.length] - 1);
      dx =
        asConv || c.planted?.unflippedKernel
          ? inputGradAsConv(c, dy, w, a, k)
          : g.op("ConvTranspose", [dy, w], { ...geometry, output_padding: { ints: outputPadding } });
    }
    // dW[m, c, i] = Σ_n,y X̄[n, c, y·s + i·d] dY[n, m, y] (X̄ = X zero-padded): a Conv of Xᵀ by dYᵀ, or the same sum
    // as one Gemm over the kernel's taps where that is faster.
    if (c.wants(1))
      dw =
        unitStride(a) && k.length === 2 && outChannels >= GEMM_MIN_CHANNELS
          ? weightGradByTaps(c, x, dy, a, k)
          : weightGrad(c, swapNC(c, x), swapNC(c, dy), a, k);
  } else {
    // ConvTranspose's adjoint is Conv with the same geometry; output_padding only added rows the Conv never reads.
    if (c.wants(0)) dx = g.op("Conv", [dy, w], geometry);
    // dW[c, m, i] = Σ_n,y X[n, c, y] dȲ[n, m, y·s + i·d] (dȲ = dY zero-padded back to the uncropped output).
    if (c.wants(1)) dw = weightGrad(c, swapNC(c, dy), swapNC(c, x), a, k);
  }
  const db = b && c.wants(2) ? g.op("ReduceSum", [dy, g.ints([0, ...spatial])], { keepdims: { i: 0 } }) : undefined;
  return [dx, dw, db];
}

/**
 * Below this many output channels a Gemm over the kernel's taps is slower than ONNX Runtime's Conv (its M is the
 * output channels), and ConvTranspose's per-pixel product (K = the output channels) is slower than a Conv's.
 * Measured on the image tokenizer's shapes (2 threads, batch 64; `npm run profile -- --model vq --engine ort`):
 * a 1×1 weight gradient 2–5× faster by taps, a 3×3 one 1.1–1.9×, but 4× slower for 3 output channels.
 */
const GEMM_MIN_CHANNELS = 8;

const unitStride = (a: ConvGeometry) => a.strides.every((s) => s === 1) && a.dilations.every((d) => d === 1);

/**
 * A 2-D stride-1 Conv's weight gradient as one Gemm (im2col over the batch): with X̄ᵀ = X zero-padded, batch and
 * channel swapped [C, N, H̄, W̄], tap (i, j) is the slice X̄ᵀ[:, :, i : i + H, j : j + W]; the taps stacked
 * tap-major are the columns [k²·C, N·H·W], and dW = dYᵀ [M, N·H·W] · columnsᵀ, read back as [M, C, kh, kw].
 * MLAS runs this Gemm (K = N·H·W) near its peak, where the Conv of weightGrad (a "kernel" the size of the image)
 * does not. (One Gemm per tap, which skips copying the stack, measured 7–12 % slower over the whole step.)
 */
function weightGradByTaps(c: VjpContext, x: string, dy: string, a: ConvGeometry, k: Shape): string {
  const { g } = c;
  const [, m, h, w] = c.shape(dy);
  const [n, ch] = c.shape(x);
  const padded = a.pads.some((p) => p !== 0) ? g.op("Pad", [x, g.ints([0, 0, a.pads[0], a.pads[1], 0, 0, a.pads[2], a.pads[3]])]) : x;
  const xt = swapNC(c, padded); // [C, N, H̄, W̄]
  const taps: string[] = [];
  for (let i = 0; i < k[0]; i++)
    for (let j = 0; j < k[1]; j++)
      taps.push(k[0] * k[1] === 1 ? xt : g.op("Slice", [xt, g.ints([i, j]), g.ints([i + h, j + w]), g.ints([2, 3])])); // [C, N, H, W]
  const stacked = taps.length === 1 ? taps[0] : g.op("Concat", taps, { axis: { i: 0 } }); // [k²·C, N, H, W]
  const columns = g.op("Reshape", [stacked, g.ints([taps.length * ch, n * h * w])]); // [k²·C, N·H·W]
  const dyt = g.op("Reshape", [swapNC(c, dy), g.ints([m, n * h * w])]); // [M, N·H·W]
  const dw = g.op("Gemm", [dyt, columns], { transB: { i: 1 } }); // [M, k²·C], tap-major
  // Planted: read back channel-major, as if the Gemm had written [M, C, k²].
  if (taps.length === 1 || c.planted?.tapsChannelMajor) return g.op("Reshape", [dw, g.ints([m, ch, k[0], k[1]])]); // [M, C, kh, kw]
  const byTap = g.op("Reshape", [dw, g.ints([m, taps.length, ch])]); // [M, k², C]
  return g.op("Reshape", [g.op("Transpose", [byTap], { perm: { ints: [0, 2, 1] } }), g.ints([m, ch, k[0], k[1]])]); // [M, C, kh, kw]
}

/**
 * A stride-1 Conv's input gradient as a Conv: the full correlation of dY with W's kernel rotated by 180° and its
 * channel axes swapped ([C, M, kh, kw]), padded by k − 1 − pad. ConvTranspose computes the same but, with few
 * output channels (the decoder's last conv, M = 3), as a per-pixel product whose inner dimension is M; this Conv's
 * is k²·M.
 */
function inputGradAsConv(c: VjpContext, dy: string, w: string, a: ConvGeometry, k: Shape): string {
  const { g } = c;
  const [m, ch] = c.shape(w);
  const taps = k.reduce((p, d) => p * d, 1);
  const flat = g.op("Reshape", [swapNC(c, w), g.ints([ch, m, taps])]); // [C, M, k²]
  const reversed = g.ints(Array.from({ length: taps }, (_, i) => taps - 1 - i)); // a 180° rotation reverses the taps
  // Planted: the kernel not rotated, so the Conv correlates where it must convolve.
  const kernel = c.planted?.unflippedKernel ? flat : g.op("Gather", [flat, reversed], { axis: { i: 2 } });
  const rotated = g.op("Reshape", [kernel, g.ints([ch, m, ...k])]); // [C, M, ...k]
  const full = a.pads.map((p, i) => k[i % k.length] - 1 - p);
  return g.op("Conv", [dy, rotated], { pads: { ints: full } });
}

/**
 * A weight gradient as one Conv over the batch: `input` [P, N, ...] correlated with `kernel` [Q, N, ...] (both
 * batch-transposed, so N is the contracted channel axis) gives [P, Q, ...k'], returned as [Q, P, ...k]. k' exceeds k
 * by ⌊output padding / dilation⌋ where the forward's floor left rows unread; those taps lie outside the kernel.
 */
function weightGrad(c: VjpContext, input: string, kernel: string, a: ConvGeometry, k: Shape): string {
  const { g } = c;
  const [strides, dilations] = c.planted?.stridedWeightGradient ? [a.strides, a.dilations] : [a.dilations, a.strides];
  let r = g.op("Conv", [input, kernel], { strides: { ints: strides }, pads: { ints: a.pads }, dilations: { ints: dilations } });
  const got = c.shape(r).slice(2);
  if (got.some((d, i) => d !== k[i])) {
    if (got.some((d, i) => d < k[i])) throw new Error(`autodiff: weight gradient [${got}] smaller than the kernel [${k}]`);
    r = g.op("Slice", [r, g.ints(k.map(() => 0)), g.ints(k), g.ints(k.map((_, i) => i + 2))]);
  }
  return swapNC(c, r);
}

/**
 * DepthToSpace moves channel blocks into b×b pixel blocks (a permutation), so its gradient is the inverse
 * permutation. DCR ("depth-column-row", the default) reads the block offset as the outer channel index:
 * y[n, c, h·b + i, w·b + j] = x[n, (i·b + j)·C' + c, h, w], which SpaceToDepth inverts. CRD reads it as the inner
 * index, x[n, c·b² + i·b + j, h, w]; SpaceToDepth has no mode, so that inverse is written as reshape–transpose–
 * reshape. (With C' = 1 the two modes coincide, so a test of the mode needs C' ≥ 2.)
 */
function depthToSpaceGrad(c: VjpContext, dy: string): string {
  const { g, node } = c;
  const b = attrInt(node.attributes, "blocksize", 0);
  const crd = (attrString(node.attributes, "mode", "DCR") === "CRD") !== !!c.planted?.depthToSpaceMode; // planted: swapped
  if (!crd) return g.op("SpaceToDepth", [dy], { blocksize: { i: b } });
  const [n, ch, h, w] = c.shape(dy);
  const blocks = g.op("Reshape", [dy, g.ints([n, ch, h / b, b, w / b, b])]); // [n, c, h, i, w, j]
  const moved = g.op("Transpose", [blocks], { perm: { ints: [0, 1, 3, 5, 2, 4] } }); // [n, c, i, j, h, w]
  return g.op("Reshape", [moved, g.ints([n, ch * b * b, h / b, w / b])]);
}

/**
 * Pad's "edge" mode repeats each border pixel outwards, y[i] = x[clamp(i − begin, 0, n − 1)] per axis, so an edge
 * pixel's gradient is the sum of the gradients of all its copies: per padded axis, the first begin + 1 gradient
 * rows sum onto row 0, the last end + 1 onto row n − 1, the rest pass through (one Slice + ReduceSum per side,
 * a Concat). The clamp is separable, so the axes are undone one after the other. Non-negative pads only.
 */
export function edgePadGrad(c: VjpContext, dy: string): string {
  const { g, node } = c;
  const s = c.shape(node.inputs[0]);
  const r = s.length;
  const pads = g.intsOf(node.inputs[1])!;
  if (pads.some((p) => p < 0)) throw new Error("autodiff: edge Pad with negative pads (a crop)");
  if (c.planted?.edgeNotSummed) return g.op("Slice", [dy, g.ints(pads.slice(0, r)), g.ints(s.map((d, i) => pads[i] + d))]);
  let d = dy;
  s.forEach((n, axis) => {
    const [begin, end] = [pads[axis], pads[axis + r]];
    if (!begin && !end) return;
    const rows = (from: number, to: number) => g.op("Slice", [d, g.ints([from]), g.ints([to]), g.ints([axis])]);
    const fold = (from: number, to: number) =>
      to - from === 1 ? rows(from, to) : g.op("ReduceSum", [rows(from, to), g.ints([axis])], { keepdims: { i: 1 } });
    if (n === 1) {
      d = fold(0, begin + 1 + end); // a single row: every copy is of it
      return;
    }
    const parts = [fold(0, begin + 1), ...(n > 2 ? [rows(begin + 1, begin + n - 1)] : []), fold(begin + n - 1, begin + n + end)];
    d = g.op("Concat", parts, { axis: { i: axis } });
  });
  return d;
}
