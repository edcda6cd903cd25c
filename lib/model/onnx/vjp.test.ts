// Every vector–Jacobian rule against central finite differences on small random shapes, run by ONNX Runtime
// itself: the graph's loss is Σ out ⊙ R for a fixed random R, so d loss / d x is the rule's product with R.
import { InferenceSession, Tensor } from "onnxruntime-node";
import { mulberry32 } from "../../data/rng";
import { describe, expect, it } from "vitest";
import { addGradients, type PlantedGradientBugs } from "./autodiff";
import { DataType, GraphBuilder } from "./graph";
import type { Shape } from "./shapes";

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

/** Seen: ≤ 3e-4 (Div), most rules ≤ 5e-5; every planted bug > 0.05. */
const TOL = 2e-3;
const ints32 = (g: GraphBuilder, v: number[], dims: number[]) => g.op("Reshape", [g.int32s(v), g.ints(dims)]);

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
  Log: { shapes: [[2, 3]], build: (g, [a]) => g.op("Log", [a]), positive: true },
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
  ];
  for (const [name, c] of planted) {
    it(name, async () => {
      expect(await gradientError(c)).toBeGreaterThan(0.05);
    });
  }
});
