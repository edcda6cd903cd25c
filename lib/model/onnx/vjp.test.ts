// Every vector–Jacobian rule against central finite differences on small random shapes, run by ONNX Runtime
// itself: the graph's loss is Σ out ⊙ R for a fixed random R, so d loss / d x is the rule's product with R.
import { InferenceSession, Tensor } from "onnxruntime-node";
import { mulberry32 } from "../../data/rng";
import { describe, expect, it } from "vitest";
import { addGradients, type PlantedGradientBugs } from "./autodiff";
import { DataType, GraphBuilder } from "./graph";
import type { Attribute } from "./proto";
import type { Shape } from "./shapes";
import { vectorQuantize } from "./vq-nodes";

interface Case {
  shapes: Shape[];
  build: (g: GraphBuilder, x: string[]) => string;
  /** Draw inputs from [0.5, 1.5] (for Log, Sqrt, a divisor) instead of ±[0.2, 1.2] (away from Relu's kink). */
  positive?: boolean;
  planted?: PlantedGradientBugs;
}

/** Largest |analytic − numeric| over all inputs, relative to the largest |numeric|. */
async function gradientError(c: Case): Promise<number> {
  const g = new GraphBuilder("vjp-test");
  const xs = c.shapes.map((s, i) => g.param(`x${i}`, s));
  const out = c.build(g, xs);
  const shape = g.shapeOf(out)!;
  const r = mulberry32(7);
  const weights = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r() * 2 - 1);
  const loss = g.op("ReduceSum", [g.op("Mul", [out, g.weight("R", weights, shape)]), g.ints(shape.map((_, i) => i))], {
    keepdims: { i: 0 },
  });
  const grads = addGradients(g, loss, xs, { planted: c.planted });
  g.output(loss, "loss", DataType.FLOAT, []);
  xs.forEach((x, i) => g.output(grads.get(x)!, `grad${i}`, DataType.FLOAT, c.shapes[i]));
  g.output(out, "out", DataType.FLOAT, shape);
  const session = await InferenceSession.create(g.toBytes(), { graphOptimizationLevel: "disabled" });
  try {
    const draw = mulberry32(11);
    const values = c.shapes.map((s) =>
      Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => {
        const u = draw();
        return c.positive ? 0.5 + u : (u < 0.5 ? -1 : 1) * (0.2 + 2 * Math.abs(u - 0.5) * 2);
      }),
    );
    const run = async () => {
      const feeds = Object.fromEntries(values.map((v, i) => [`x${i}`, new Tensor("float32", v, c.shapes[i])]));
      return session.run(feeds);
    };
    const base = await run();
    expect(base.out.dims).toEqual(shape); // the static shape inference agrees with ORT
    let worst = 0;
    let scale = 1e-3;
    const eps = 1e-2;
    for (let i = 0; i < values.length; i++) {
      const analytic = base[`grad${i}`].data as Float32Array;
      expect(analytic.length).toBe(values[i].length);
      for (let j = 0; j < values[i].length; j++) {
        const v = values[i][j];
        values[i][j] = v + eps;
        const up = ((await run()).loss.data as Float32Array)[0];
        values[i][j] = v - eps;
        const down = ((await run()).loss.data as Float32Array)[0];
        values[i][j] = v;
        const numeric = (up - down) / (2 * eps);
        scale = Math.max(scale, Math.abs(numeric));
        worst = Math.max(worst, Math.abs(analytic[j] - numeric));
      }
    }
    return worst / scale;
  } finally {
    await session.release();
  }
}

/** Seen: ≤ 3e-4 (Div), most rules ≤ 5e-5, the convolution family ≤ 7e-5; every planted bug > 0.09. */
const TOL = 2e-3;
const ints32 = (g: GraphBuilder, v: number[], dims: number[]) => g.op("Reshape", [g.int32s(v), g.ints(dims)]);

/** Conv/ConvTranspose attributes: strides, pads (begins then ends), dilations, output_padding where given. */
function geo(strides: number[], pads: number[], more: { dilations?: number[]; outputPadding?: number[] } = {}): Record<string, Attribute> {
  const a: Record<string, Attribute> = { strides: { ints: strides }, pads: { ints: pads } };
  if (more.dilations) a.dilations = { ints: more.dilations };
  if (more.outputPadding) a.output_padding = { ints: more.outputPadding };
  return a;
}

/** A fixed random tensor (a constant operand, e.g. the codebook when only z is differentiated). */
function fixed(g: GraphBuilder, name: string, dims: number[], seed: number): string {
  const r = mulberry32(seed);
  return g.weight(
    name,
    Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => r() * 2 - 1),
    dims,
  );
}

const VQ_BETA = 0.25;

const CASES: Record<string, Case> = {
  "MatMul 2-D": {
    shapes: [
      [3, 4],
      [4, 5],
    ],
    build: (g, [a, b]) => g.op("MatMul", [a, b]),
  },
  "MatMul batched 4-D (attention)": {
    shapes: [
      [2, 2, 3, 4],
      [2, 2, 4, 3],
    ],
    build: (g, [a, b]) => g.op("MatMul", [a, b]),
  },
  "MatMul rows × matrix": {
    shapes: [
      [2, 3, 4],
      [4, 5],
    ],
    build: (g, [a, b]) => g.op("MatMul", [a, b]),
  },
  "MatMul broadcast batch": {
    shapes: [
      [2, 3, 4],
      [1, 4, 2],
    ],
    build: (g, [a, b]) => g.op("MatMul", [a, b]),
  },
  Gemm: { shapes: [[3, 4], [4, 5], [5]], build: (g, [a, b, c]) => g.op("Gemm", [a, b, c]) },
  "Gemm transA": { shapes: [[4, 3], [4, 5], [5]], build: (g, [a, b, c]) => g.op("Gemm", [a, b, c], { transA: { i: 1 } }) },
  "Gemm transB": {
    shapes: [
      [3, 4],
      [5, 4],
    ],
    build: (g, [a, b]) => g.op("Gemm", [a, b], { transB: { i: 1 } }),
  },
  "Gemm transA transB": {
    shapes: [
      [4, 3],
      [5, 4],
      [1, 5],
    ],
    build: (g, [a, b, c]) => g.op("Gemm", [a, b, c], { transA: { i: 1 }, transB: { i: 1 } }),
  },
  "Add broadcast": { shapes: [[2, 3, 4], [4]], build: (g, [a, b]) => g.op("Add", [a, b]) },
  "Sub broadcast size-1 dims": {
    shapes: [
      [2, 1, 4],
      [3, 1],
    ],
    build: (g, [a, b]) => g.op("Sub", [a, b]),
  },
  "Mul broadcast": {
    shapes: [
      [2, 3],
      [2, 1],
    ],
    build: (g, [a, b]) => g.op("Mul", [a, b]),
  },
  "Div broadcast": { shapes: [[2, 3], [3]], build: (g, [a, b]) => g.op("Div", [a, b]), positive: true },
  "value used twice (x·x + x)": { shapes: [[2, 3]], build: (g, [a]) => g.op("Add", [g.op("Mul", [a, a]), a]) },
  "Neg, Identity": { shapes: [[5]], build: (g, [a]) => g.op("Identity", [g.op("Neg", [a])]) },
  Sigmoid: { shapes: [[2, 3]], build: (g, [a]) => g.op("Sigmoid", [a]) },
  Tanh: { shapes: [[2, 3]], build: (g, [a]) => g.op("Tanh", [a]) },
  Exp: { shapes: [[2, 3]], build: (g, [a]) => g.op("Exp", [a]) },
  // The VAE's decoder spread and the GAN losses; ×4 so both tails (slope → 0 and → 1) are in the draw.
  Softplus: { shapes: [[2, 5]], build: (g, [a]) => g.op("Softplus", [g.op("Mul", [a, g.scalar(4)])]) },
  Log: { shapes: [[2, 3]], build: (g, [a]) => g.op("Log", [a]), positive: true },
  // The VQ-GAN's feature matching, mean |D_l(x̂) − D_l(x)|: both signs in the draw (never 0, where it has a kink).
  Abs: { shapes: [[2, 5]], build: (g, [a]) => g.op("Abs", [a]) },
  Sqrt: { shapes: [[2, 3]], build: (g, [a]) => g.op("Sqrt", [a]), positive: true },
  Relu: { shapes: [[2, 5]], build: (g, [a]) => g.op("Relu", [a]) },
  Softmax: { shapes: [[2, 3, 4]], build: (g, [a]) => g.op("Softmax", [a], { axis: { i: -1 } }) },
  LogSoftmax: { shapes: [[3, 5]], build: (g, [a]) => g.op("LogSoftmax", [a], { axis: { i: 1 } }) },
  LayerNormalization: {
    shapes: [[2, 3, 6], [6], [6]],
    build: (g, [x, s, b]) => g.op("LayerNormalization", [x, s, b], { axis: { i: -1 }, epsilon: { f: 1e-5 } }),
  },
  "ReduceSum (axes input, no keepdims)": {
    shapes: [[2, 3, 4]],
    build: (g, [a]) => g.op("ReduceSum", [a, g.ints([0, 2])], { keepdims: { i: 0 } }),
  },
  "ReduceMean (axes attribute)": {
    shapes: [[2, 3, 4]],
    build: (g, [a]) => g.op("ReduceMean", [a], { axes: { ints: [-1] }, keepdims: { i: 1 } }),
  },
  Reshape: {
    shapes: [[2, 6]],
    build: (g, [a]) => g.op("Mul", [g.op("Reshape", [a, g.ints([3, -1])]), g.op("Reshape", [a, g.ints([3, 4])])]),
  },
  Transpose: { shapes: [[2, 3, 4]], build: (g, [a]) => g.op("Transpose", [a], { perm: { ints: [2, 0, 1] } }) },
  Slice: { shapes: [[4, 5]], build: (g, [a]) => g.op("Slice", [a, g.ints([1, -3]), g.ints([3, 100]), g.ints([0, -1])]) },
  Concat: {
    shapes: [
      [2, 3],
      [2, 2],
    ],
    build: (g, [a, b]) => g.op("Concat", [a, b, a], { axis: { i: 1 } }),
  },
  "Split (one part unused)": {
    shapes: [[2, 6]],
    build: (g, [a]) => {
      const [p, , r] = g.opN("Split", [a, g.ints([2, 1, 3])], 3, { axis: { i: 1 } });
      return g.op("Concat", [r, p], { axis: { i: 1 } });
    },
  },
  "Gather rows (repeated indices)": {
    shapes: [[6, 3]],
    build: (g, [a]) => g.op("Gather", [a, ints32(g, [0, 2, 2, 5, 0, 0], [2, 3])], { axis: { i: 0 } }),
  },
  Where: {
    shapes: [[2, 3], [3]],
    build: (g, [a, b]) =>
      g.op("Where", [g.op("Greater", [g.weight("c", Float32Array.of(1, -1, 1, -1, -1, 1), [2, 3]), g.scalar(0)]), a, b]),
  },
  "Pad (constant)": { shapes: [[2, 3]], build: (g, [a]) => g.op("Pad", [a, g.ints([1, 0, 0, 2])]) },
  Expand: { shapes: [[3, 1]], build: (g, [a]) => g.op("Expand", [a, g.ints([2, 3, 4])]) },
  // Issue 31: the convolution family (vjp-conv.ts). Weight gradient via a Conv over the batch, input gradient via
  // ConvTranspose; stride 2 on even sizes needs output_padding 1 (the floor leaves a row unread).
  "Conv 3×3, pads 1, bias": {
    shapes: [[2, 3, 5, 5], [4, 3, 3, 3], [4]],
    build: (g, [x, w, b]) => g.op("Conv", [x, w, b], geo([1, 1], [1, 1, 1, 1])),
  },
  "Conv 1×1, pads 0": { shapes: [[2, 4, 3, 3], [5, 4, 1, 1], [5]], build: (g, [x, w, b]) => g.op("Conv", [x, w, b]) },
  // ≥ 8 output channels: the weight gradient as one Gemm over the kernel's taps; < 8 (and stride 1): the input
  // gradient as a Conv with the rotated kernel (vjp-conv.ts, GEMM_MIN_CHANNELS).
  "Conv 3×3, pads 1, 8 outputs (weight gradient by taps)": {
    shapes: [[2, 3, 5, 5], [8, 3, 3, 3], [8]],
    build: (g, [x, w, b]) => g.op("Conv", [x, w, b], geo([1, 1], [1, 1, 1, 1])),
  },
  "Conv 3×2 kernel, asymmetric pads, 8 outputs (taps)": {
    shapes: [
      [2, 2, 5, 6],
      [8, 2, 3, 2],
    ],
    build: (g, [x, w]) => g.op("Conv", [x, w], geo([1, 1], [0, 1, 1, 0])),
  },
  "Conv 1×1, 8 outputs (taps)": { shapes: [[2, 4, 3, 3], [8, 4, 1, 1], [8]], build: (g, [x, w, b]) => g.op("Conv", [x, w, b]) },
  "Conv 3×2 kernel, asymmetric pads, 3 outputs (input gradient as a Conv)": {
    shapes: [
      [2, 2, 5, 6],
      [3, 2, 3, 2],
    ],
    build: (g, [x, w]) => g.op("Conv", [x, w], geo([1, 1], [0, 1, 1, 0])),
  },
  "Conv stride 2, pads 1, even input": {
    shapes: [[2, 2, 6, 6], [3, 2, 3, 3], [3]],
    build: (g, [x, w, b]) => g.op("Conv", [x, w, b], geo([2, 2], [1, 1, 1, 1])),
  },
  "Conv stride 2, pads 0, odd input": {
    shapes: [
      [1, 2, 7, 7],
      [3, 2, 3, 3],
    ],
    build: (g, [x, w]) => g.op("Conv", [x, w], geo([2, 2], [0, 0, 0, 0])),
  },
  "Conv stride 2, pads 0, 3×2 kernel on 6×5": {
    shapes: [
      [1, 2, 6, 5],
      [2, 2, 3, 2],
    ],
    build: (g, [x, w]) => g.op("Conv", [x, w], geo([2, 2], [0, 0, 0, 0])),
  },
  "Conv asymmetric pads": {
    shapes: [[1, 2, 4, 5], [2, 2, 3, 3], [2]],
    build: (g, [x, w, b]) => g.op("Conv", [x, w, b], geo([1, 1], [0, 1, 1, 0])),
  },
  "Conv dilation 2": {
    shapes: [
      [1, 2, 7, 6],
      [2, 2, 3, 3],
    ],
    build: (g, [x, w]) => g.op("Conv", [x, w], geo([1, 1], [2, 2, 2, 2], { dilations: [2, 2] })),
  },
  "Conv 1-D, stride 2, dilation 2": {
    shapes: [
      [2, 2, 9],
      [3, 2, 3],
    ],
    build: (g, [x, w]) => g.op("Conv", [x, w], geo([2], [1, 1], { dilations: [2] })),
  },
  "ConvTranspose stride 1, pads 1": {
    shapes: [[2, 3, 4, 4], [3, 2, 3, 3], [2]],
    build: (g, [x, w, b]) => g.op("ConvTranspose", [x, w, b], geo([1, 1], [1, 1, 1, 1])),
  },
  "ConvTranspose stride 2, pads 1, output_padding 1": {
    shapes: [[1, 3, 3, 3], [3, 2, 3, 3], [2]],
    build: (g, [x, w, b]) => g.op("ConvTranspose", [x, w, b], geo([2, 2], [1, 1, 1, 1], { outputPadding: [1, 1] })),
  },
  "ConvTranspose stride 2, 2×2 kernel (2× upsampling)": {
    shapes: [[2, 2, 3, 3], [2, 3, 2, 2], [3]],
    build: (g, [x, w, b]) => g.op("ConvTranspose", [x, w, b], geo([2, 2], [0, 0, 0, 0])),
  },
  // C' = 2 output channels: with C' = 1 the modes DCR and CRD are the same permutation.
  "DepthToSpace DCR": { shapes: [[1, 8, 2, 3]], build: (g, [x]) => g.op("DepthToSpace", [x], { blocksize: { i: 2 }, mode: { s: "DCR" } }) },
  "DepthToSpace CRD": { shapes: [[1, 8, 2, 3]], build: (g, [x]) => g.op("DepthToSpace", [x], { blocksize: { i: 2 }, mode: { s: "CRD" } }) },
  SpaceToDepth: { shapes: [[2, 2, 4, 6]], build: (g, [x]) => g.op("SpaceToDepth", [x], { blocksize: { i: 2 } }) },
  "Pad edge, 1-pixel border (NCHW)": {
    shapes: [[1, 2, 3, 4]],
    build: (g, [x]) => g.op("Pad", [x, g.ints([0, 0, 1, 1, 0, 0, 1, 1])], { mode: { s: "edge" } }),
  },
  "Pad edge, uneven borders wider than the input": {
    // Axis 1: 2 rows, begin 1; axis 2: a single row, 2 before and 1 after; axis 3: 2 columns, 3 after.
    shapes: [[1, 2, 1, 2]],
    build: (g, [x]) => g.op("Pad", [x, g.ints([0, 1, 2, 0, 0, 0, 1, 3])], { mode: { s: "edge" } }),
  },
  "LeakyRelu α 0.2": { shapes: [[2, 5]], build: (g, [x]) => g.op("LeakyRelu", [x], { alpha: { f: 0.2 } }) },
  "edge-padded 3×3 Conv (layers.ts conv, padding edge)": {
    shapes: [[1, 2, 4, 4], [3, 2, 3, 3], [3]],
    build: (g, [x, w, b]) => g.op("Conv", [g.op("Pad", [x, g.ints([0, 0, 1, 1, 0, 0, 1, 1])], { mode: { s: "edge" } }), w, b]),
  },
  "up stage: DepthToSpace(Conv 1×1(LeakyRelu x))": {
    shapes: [[1, 2, 3, 3], [8, 2, 1, 1], [8]],
    build: (g, [x, w, b]) => g.op("DepthToSpace", [g.op("Conv", [g.op("LeakyRelu", [x]), w, b])], { blocksize: { i: 2 } }),
  },
  // FD sees sg only where its input is constant: z a graph input and the codebook fixed, or the other way round.
  "VQ commitment β‖z − sg(zQ)‖² (wrt z)": {
    shapes: [[6, 3]],
    build: (g, [z]) => g.op("Mul", [vectorQuantize(g, z, fixed(g, "codebook", [4, 3], 5)).commitment, g.scalar(VQ_BETA)]),
  },
  "VQ codebook ‖sg(z) − zQ‖² (wrt the codebook)": {
    shapes: [[4, 3]],
    build: (g, [e]) => vectorQuantize(g, fixed(g, "z", [6, 3], 5), e).codebook,
  },
};

describe("vector–Jacobian rules against central finite differences", () => {
  for (const [name, c] of Object.entries(CASES)) {
    it(name, async () => {
      expect(await gradientError(c)).toBeLessThan(TOL);
    });
  }
});

describe("planted gradient bugs are caught", () => {
  const planted: [string, Case][] = [
    ["a value used twice counted once", { ...CASES["value used twice (x·x + x)"], planted: { countOnce: true } }],
    [
      "a transposed MatMul gradient",
      {
        shapes: [
          [3, 4],
          [4, 4],
        ],
        build: (g, [a, b]) => g.op("MatMul", [a, b]),
        planted: { transposedMatMul: true },
      },
    ],
    ["a missing broadcast reduction", { ...CASES["Add broadcast"], planted: { missingReduction: true } }],
    ["the mask dropped from the backward pass", { ...CASES["Where"], planted: { maskDropped: true } }],
    ["Conv's kernel not flipped in the input gradient", { ...CASES["Conv 3×3, pads 1, bias"], planted: { unflippedKernel: true } }],
    [
      "Conv's kernel not flipped in the input gradient, 3×2 kernel",
      { ...CASES["Conv 3×2 kernel, asymmetric pads, 3 outputs (input gradient as a Conv)"], planted: { unflippedKernel: true } },
    ],
    [
      "Conv's weight gradient by taps read channel-major",
      { ...CASES["Conv 3×3, pads 1, 8 outputs (weight gradient by taps)"], planted: { tapsChannelMajor: true } },
    ],
    [
      "Conv's weight gradient strided, not dilated",
      { ...CASES["Conv stride 2, pads 1, even input"], planted: { stridedWeightGradient: true } },
    ],
    [
      "ConvTranspose's weight gradient strided, not dilated",
      { ...CASES["ConvTranspose stride 2, pads 1, output_padding 1"], planted: { stridedWeightGradient: true } },
    ],
    ["DepthToSpace DCR undone as CRD", { ...CASES["DepthToSpace DCR"], planted: { depthToSpaceMode: true } }],
    ["DepthToSpace CRD undone as DCR (SpaceToDepth)", { ...CASES["DepthToSpace CRD"], planted: { depthToSpaceMode: true } }],
    ["SpaceToDepth undone by DepthToSpace CRD", { ...CASES["SpaceToDepth"], planted: { depthToSpaceMode: true } }],
    ["the edge-pad border not summed back", { ...CASES["Pad edge, 1-pixel border (NCHW)"], planted: { edgeNotSummed: true } }],
    ["LeakyRelu's negative slope dropped", { ...CASES["LeakyRelu α 0.2"], planted: { leakySlopeDropped: true } }],
  ];
  for (const [name, c] of planted) {
    it(name, async () => {
      expect(await gradientError(c)).toBeGreaterThan(0.05);
    });
  }
});

/**
 * The VQ-VAE objective Σ zQ_st ⊙ R (+ β·commitment + codebook with `losses`), differentiated wrt z and the codebook
 * e together. FD cannot check this (forward, zQ_st = zQ moves with e and not with z), so the gradients are compared
 * with van den Oord et al.'s (2017, eq. 3) by hand: dz = R (+ 2β(z − zQ)/ND, the commitment pull) and de = 0
 * (+ de_k = Σ_{n: code n = k} 2(zQ_n − z_n)/ND, the codebook term). Returns the largest deviation relative to the
 * largest expected entry, and how far zQ_st is from zQ forward.
 */
async function straightThroughError(losses: boolean, planted?: PlantedGradientBugs): Promise<{ grad: number; forward: number }> {
  const [n, k, d] = [6, 4, 3];
  const g = new GraphBuilder("vq-st-test");
  const [z, e] = [g.param("z", [n, d]), g.param("e", [k, d])];
  const q = vectorQuantize(g, z, e);
  const draw = mulberry32(3);
  const r = Float32Array.from({ length: n * d }, () => draw() * 2 - 1);
  const upstream = g.op("ReduceSum", [g.op("Mul", [q.zQst, g.weight("R", r, [n, d])])], { keepdims: { i: 0 } });
  const loss = losses ? g.op("Sum", [upstream, g.op("Mul", [q.commitment, g.scalar(VQ_BETA)]), q.codebook]) : upstream;
  const grads = addGradients(g, loss, [z, e], { planted });
  g.output(grads.get(z)!, "dz", DataType.FLOAT, [n, d]);
  g.output(grads.get(e)!, "de", DataType.FLOAT, [k, d]);
  g.output(q.zQ, "zQ", DataType.FLOAT, [n, d]);
  g.output(q.zQst, "zQst", DataType.FLOAT, [n, d]);
  g.output(q.codes, "codes", DataType.INT64, [n]);
  const session = await InferenceSession.create(g.toBytes());
  try {
    const values = (len: number) => Float32Array.from({ length: len }, () => draw() * 2 - 1);
    const [zv, ev] = [values(n * d), values(k * d)];
    const out = await session.run({ z: new Tensor("float32", zv, [n, d]), e: new Tensor("float32", ev, [k, d]) });
    const [zQ, zQst, dz, de] = (["zQ", "zQst", "dz", "de"] as const).map((name) => out[name].data as Float32Array);
    const codes = Array.from(out.codes.data as BigInt64Array, Number);
    expect(new Set(codes).size).toBeGreaterThan(1); // more than one code in use, so de's rows differ
    const w = losses ? 2 / (n * d) : 0;
    const expectDz = zv.map((zi, i) => r[i] + VQ_BETA * w * (zi - zQ[i]));
    const expectDe = new Float32Array(k * d);
    codes.forEach((code, row) => {
      for (let j = 0; j < d; j++) expectDe[code * d + j] += w * (zQ[row * d + j] - zv[row * d + j]);
    });
    const scale = Math.max(...expectDz.map(Math.abs), ...expectDe.map(Math.abs));
    const worst = Math.max(...dz.map((v, i) => Math.abs(v - expectDz[i])), ...de.map((v, i) => Math.abs(v - expectDe[i])));
    return { grad: worst / scale, forward: Math.max(...zQst.map((v, i) => Math.abs(v - zQ[i]))) };
  } finally {
    await session.release();
  }
}

describe("stop-gradient and the VQ straight-through estimator", () => {
  it("z + sg(zQ − z) is zQ forward and hands z the upstream gradient unchanged, the codebook none", async () => {
    const { grad, forward } = await straightThroughError(false);
    expect(forward).toBeLessThan(1e-6);
    expect(grad).toBe(0); // exactly: dz is R itself (1·R), de the zeros of an unreached value
  });
  it("with the commitment and codebook terms, each reaches only its own side of sg", async () => {
    expect((await straightThroughError(true)).grad).toBeLessThan(1e-6);
  });
  for (const losses of [false, true]) {
    it(`a stop-gradient that lets the gradient through is caught (${losses ? "with" : "without"} the loss terms)`, async () => {
      expect((await straightThroughError(losses, { stopGradientLeaks: true })).grad).toBeGreaterThan(0.05);
    });
  }
});
