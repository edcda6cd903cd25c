// Vector–Jacobian products, one per operator our graphs use: given d loss / d outputs (undefined where an output
// does not reach the loss), the nodes computing d loss / d inputs. Broadcasting is undone by summing over the
// broadcast axes (unbroadcast). Every rule is checked against central finite differences in vjp.test.ts.
// The convolution family (Conv, ConvTranspose, DepthToSpace, SpaceToDepth, Pad's edge mode) is in ./vjp-conv.ts.
import type { VjpContext } from "./autodiff";
import type { Attribute } from "./proto";
import { axisOf, reduceAxes, sliceBounds, type Shape } from "./shapes";
import { convFamilyVjp, edgePadGrad } from "./vjp-conv";

type Grads = (string | undefined)[];

const same = (a: Shape, b: Shape) => a.length === b.length && a.every((d, i) => d === b[i]);

function attr(a: Record<string, Attribute> | undefined, name: string, fallback: number): number {
  const v = a?.[name];
  return v && "i" in v ? v.i : v && "f" in v ? v.f : fallback;
}

/** dy summed back to `target` over the axes broadcasting stretched (leading axes and size-1 dims). */
export function unbroadcast(c: VjpContext, dy: string, target: Shape): string {
  const s = c.shape(dy);
  if (same(s, target)) return dy;
  const lead = s.length - target.length;
  const axes = s.map((d, i) => i).filter((i) => i < lead || (target[i - lead] === 1 && s[i] !== 1));
  let r = axes.length ? c.g.op("ReduceSum", [dy, c.g.ints(axes)], { keepdims: { i: 1 } }) : dy;
  if (c.planted?.missingReduction && axes.length) {
    // Planted: the first slice along the broadcast axes instead of their sum (right shape, wrong values).
    r = c.g.op("Slice", [dy, c.g.ints(axes.map(() => 0)), c.g.ints(axes.map(() => 1)), c.g.ints(axes)]);
  }
  if (!same(c.shape(r), target)) r = c.g.op("Reshape", [r, c.g.ints(target)]);
  return r;
}

/** Swaps the last two axes. */
function swapLast(c: VjpContext, x: string): string {
  const r = c.shape(x).length;
  const perm = Array.from({ length: r }, (_, i) => i);
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return c.g.op("Transpose", [x], { perm: { ints: perm } });
}

function gemm(c: VjpContext, a: string, b: string, transA: number, transB: number): string {
  return c.g.op("Gemm", [a, b], { transA: { i: transA }, transB: { i: transB } });
}

export function vjp(c: VjpContext, dys: Grads): Grads {
  const { g, node } = c;
  const [x, y] = [node.inputs, node.outputs];
  const dy = dys[0];
  const sx = (i: number) => c.shape(x[i]);
  const only = (fn: () => string): Grads => (dy && c.wants(0) ? [fn()] : []);
  switch (node.opType) {
    case "Identity":
      return [dy];
    case "Add":
    case "Sum":
      return x.map((_, i) => (dy && c.wants(i) ? unbroadcast(c, dy, sx(i)) : undefined));
    case "Sub":
      if (!dy) return [];
      return [c.wants(0) ? unbroadcast(c, dy, sx(0)) : undefined, c.wants(1) ? unbroadcast(c, g.op("Neg", [dy]), sx(1)) : undefined];
    case "Neg":
      return only(() => g.op("Neg", [dy!]));
    case "Mul":
      if (!dy) return [];
      if (c.planted?.maskDropped && !c.wants(1)) return [unbroadcast(c, dy, sx(0))]; // planted: y = x ⊙ mask, dx = dy
      return [
        c.wants(0) ? unbroadcast(c, g.op("Mul", [dy, x[1]]), sx(0)) : undefined,
        c.wants(1) ? unbroadcast(c, g.op("Mul", [dy, x[0]]), sx(1)) : undefined,
      ];
    case "Div": {
      if (!dy) return [];
      const q = g.op("Div", [dy, x[1]]);
      // d(a/b)/db = −a/b² = −y/b.
      return [
        c.wants(0) ? unbroadcast(c, q, sx(0)) : undefined,
        c.wants(1) ? unbroadcast(c, g.op("Neg", [g.op("Mul", [q, y[0]])]), sx(1)) : undefined,
      ];
    }
    case "Sigmoid":
      return only(() => g.op("Mul", [dy!, g.op("Mul", [y[0], g.op("Sub", [g.scalar(1), y[0]])])]));
    case "Tanh":
      return only(() => g.op("Mul", [dy!, g.op("Sub", [g.scalar(1), g.op("Mul", [y[0], y[0]])])]));
    case "Exp":
      return only(() => g.op("Mul", [dy!, y[0]]));
    case "Softplus":
      // softplus(x) = log(1 + eˣ), whose derivative is σ(x) (bounded, so no overflow for large |x|).
      return only(() => g.op("Mul", [dy!, g.op("Sigmoid", [x[0]])]));
    case "Log":
      return only(() => g.op("Div", [dy!, x[0]]));
    case "Abs":
      // sign(x), with −1 at x = 0 as tfjs's Abs gradient takes it (dy ⊙ step(x, −1)), so a tie breaks alike.
      return only(() => g.op("Where", [g.op("Greater", [x[0], g.scalar(0)]), dy!, g.op("Neg", [dy!])]));
    case "Sqrt":
      return only(() => g.op("Div", [g.op("Mul", [dy!, g.scalar(0.5)]), y[0]]));
    case "Relu":
      return only(() => g.op("Where", [g.op("Greater", [x[0], g.scalar(0)]), dy!, g.scalar(0)]));
    case "LeakyRelu": {
      // y = x for x ≥ 0, αx below (Maas et al. 2013; α defaults to 0.01); the slope at the kink is taken as α.
      const alpha = attr(node.attributes, "alpha", 0.01);
      return only(() => {
        const below = c.planted?.leakySlopeDropped ? g.scalar(0) : g.op("Mul", [dy!, g.scalar(alpha)]); // planted: Relu's rule
        return g.op("Where", [g.op("Greater", [x[0], g.scalar(0)]), dy!, below]);
      });
    }
    case "Where":
      if (!dy) return [];
      return [
        undefined,
        c.wants(1) ? unbroadcast(c, c.planted?.maskDropped ? dy : g.op("Where", [x[0], dy, g.scalar(0)]), sx(1)) : undefined,
        c.wants(2) ? unbroadcast(c, g.op("Where", [x[0], g.scalar(0), dy]), sx(2)) : undefined,
      ];
    case "Softmax": {
      // dx = y ⊙ (dy − Σ_axis dy ⊙ y)
      const axis = attr(node.attributes, "axis", -1);
      return only(() => {
        const dot = g.op("ReduceSum", [g.op("Mul", [dy!, y[0]]), g.ints([axis])], { keepdims: { i: 1 } });
        return g.op("Mul", [y[0], g.op("Sub", [dy!, dot])]);
      });
    }
    case "LogSoftmax": {
      // dx = dy − softmax(x) ⊙ Σ_axis dy, with softmax(x) = exp(y)
      const axis = attr(node.attributes, "axis", -1);
      return only(() =>
        g.op("Sub", [dy!, g.op("Mul", [g.op("Exp", [y[0]]), g.op("ReduceSum", [dy!, g.ints([axis])], { keepdims: { i: 1 } })])]),
      );
    }
    case "ReduceSum":
    case "ReduceMean":
      return only(() => {
        const s = sx(0);
        const axes = reduceAxes(node.opType, x, node.attributes, (v) => g.intsOf(v), s.length);
        const kept = s.map((d, i) => (axes.includes(i) ? 1 : d));
        let d = same(c.shape(dy!), kept) ? dy! : g.op("Reshape", [dy!, g.ints(kept)]);
        if (node.opType === "ReduceMean") d = g.op("Mul", [d, g.scalar(1 / axes.reduce((a, i) => a * s[i], 1))]);
        return g.op("Expand", [d, g.ints(s)]);
      });
    case "Expand":
      return only(() => unbroadcast(c, dy!, sx(0)));
    case "Reshape":
      return only(() => g.op("Reshape", [dy!, g.ints(sx(0))]));
    case "Transpose": {
      const s = sx(0);
      const a = node.attributes?.perm;
      const perm = a && "ints" in a ? a.ints : s.map((_, i) => s.length - 1 - i);
      const inverse: number[] = [];
      perm.forEach((p, i) => (inverse[p] = i));
      return only(() => g.op("Transpose", [dy!], { perm: { ints: inverse } }));
    }
    case "Slice":
      return only(() => {
        const s = sx(0);
        const bounds = sliceBounds(s, g.intsOf(x[1])!, g.intsOf(x[2])!, x[3] ? g.intsOf(x[3]) : undefined);
        const pads = new Array<number>(2 * s.length).fill(0);
        for (const { axis, start, end } of bounds) [pads[axis], pads[axis + s.length]] = [start, s[axis] - end];
        return g.op("Pad", [dy!, g.ints(pads)]);
      });
    case "Pad":
      return only(() => {
        const mode = node.attributes?.mode;
        if (mode && "s" in mode && mode.s === "edge") return edgePadGrad(c, dy!);
        if (mode && "s" in mode && mode.s !== "constant") throw new Error(`autodiff: Pad mode "${mode.s}" has no rule yet`);
        const s = sx(0);
        const pads = g.intsOf(x[1])!;
        return g.op("Slice", [dy!, g.ints(pads.slice(0, s.length)), g.ints(s.map((d, i) => pads[i] + d))]);
      });
    case "Concat": {
      if (!dy) return [];
      const axis = axisOf(attr(node.attributes, "axis", 0), sx(0).length);
      return g.opN("Split", [dy, g.ints(x.map((_, i) => sx(i)[axis]))], x.length, { axis: { i: axis } });
    }
    case "Split": {
      const axis = axisOf(attr(node.attributes, "axis", 0), sx(0).length);
      return only(() =>
        g.op(
          "Concat",
          dys.map((d, i) => d ?? g.zeros(c.shape(y[i]))),
          { axis: { i: axis } },
        ),
      );
    }
    case "Gather": {
      const s = sx(0);
      if (axisOf(attr(node.attributes, "axis", 0), s.length) !== 0) throw new Error("autodiff: Gather's rule covers axis 0 only");
      // d data = zeros with dy's rows added at their indices (duplicates summed): ScatterND, reduction "add".
      return only(() => {
        const rest = s.slice(1);
        const idx = g.op("Reshape", [g.op("Cast", [x[1]], { to: { i: 7 } }), g.ints([-1, 1])]); // [N, 1] int64
        return g.op("ScatterND", [g.zeros(s), idx, g.op("Reshape", [dy!, g.ints([-1, ...rest])])], { reduction: { s: "add" } });
      });
    }
    case "MatMul": {
      if (!dy) return [];
      const [sa, sb] = [sx(0), sx(1)];
      if (sb.length === 2 && sa.length > 2) {
        // A stack of rows times one matrix: dB is one Gemm over all rows, no batched product to reduce.
        const [k, n] = sb;
        return [
          c.wants(0) ? g.op("MatMul", [dy, swapLast(c, x[1])]) : undefined,
          c.wants(1) ? gemm(c, g.op("Reshape", [x[0], g.ints([-1, k])]), g.op("Reshape", [dy, g.ints([-1, n])]), 1, 0) : undefined,
        ];
      }
      const bT = c.planted?.transposedMatMul ? x[1] : swapLast(c, x[1]); // planted: B where Bᵀ belongs (square B only)
      return [
        c.wants(0) ? unbroadcast(c, g.op("MatMul", [dy, bT]), sa) : undefined,
        c.wants(1) ? unbroadcast(c, g.op("MatMul", [swapLast(c, x[0]), dy]), sb) : undefined,
      ];
    }
    case "Gemm": {
      if (!dy) return [];
      if (attr(node.attributes, "alpha", 1) !== 1 || attr(node.attributes, "beta", 1) !== 1)
        throw new Error("autodiff: Gemm with alpha/beta ≠ 1");
      const tA = attr(node.attributes, "transA", 0);
      const tB = attr(node.attributes, "transB", 0);
      // Y = A'·B' (+ C): dA' = dY·B'ᵀ and dB' = A'ᵀ·dY, each written as one Gemm with transpose flags.
      const dA = tA ? gemm(c, x[1], dy, tB, 1) : gemm(c, dy, x[1], 0, tB ? 0 : 1);
      const dB = tB ? gemm(c, dy, x[0], 1, tA) : gemm(c, x[0], dy, tA ? 0 : 1, 0);
      return [c.wants(0) ? dA : undefined, c.wants(1) ? dB : undefined, x[2] && c.wants(2) ? unbroadcast(c, dy, sx(2)) : undefined];
    }
    case "LayerNormalization": {
      if (!dy) return [];
      const s = sx(0);
      if (axisOf(attr(node.attributes, "axis", -1), s.length) !== s.length - 1)
        throw new Error("autodiff: LayerNormalization over the last axis only");
      // Mean and 1/σ from the forward node itself (its optional outputs), then the usual LN backward (Ba et al. 2016):
      // x̂ = (x − μ)/σ, dx̂ = dy ⊙ γ, dx = (dx̂ − mean(dx̂) − x̂ ⊙ mean(dx̂ ⊙ x̂)) / σ.
      const [, mean, invStd] = g.ensureOutputs(node, 3);
      const xHat = g.op("Mul", [g.op("Sub", [x[0], mean]), invStd]);
      const lead = g.ints(s.slice(0, -1).map((_, i) => i));
      const last = { axes: { ints: [-1] }, keepdims: { i: 1 } };
      let dx: string | undefined;
      if (c.wants(0)) {
        const dxHat = g.op("Mul", [dy, x[1]]);
        const m1 = g.op("ReduceMean", [dxHat], last);
        const m2 = g.op("ReduceMean", [g.op("Mul", [dxHat, xHat])], last);
        dx = g.op("Mul", [g.op("Sub", [g.op("Sub", [dxHat, m1]), g.op("Mul", [xHat, m2])]), invStd]);
      }
      return [
        dx,
        c.wants(1) ? g.op("ReduceSum", [g.op("Mul", [dy, xHat]), lead], { keepdims: { i: 0 } }) : undefined,
        x[2] && c.wants(2) ? g.op("ReduceSum", [dy, lead], { keepdims: { i: 0 } }) : undefined,
      ];
    }
    default:
      return convFamilyVjp(c, dys); // throws for an operator without a rule
  }
}
