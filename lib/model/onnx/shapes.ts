// Static shape inference for the operators our graphs use, so the autodiff (./autodiff.ts) knows every value's
// shape when it writes a gradient: which axes a broadcast must be summed back over, what a Reshape or Slice must
// be undone to. Only fully static shapes are inferred (a training graph has a fixed batch); a symbolic dimension
// such as the serving graphs' batch "B" leaves the value's shape unknown, which is fine for graphs never
// differentiated. Semantics: the ONNX operator spec at opset 17 (https://onnx.ai/onnx/operators/).
import type { Attribute } from "./proto";
import { inferConvShapes } from "./shapes-conv";

export type Shape = number[];

/** The values of an int64 constant by name (shapes, axes, starts…), or undefined if the input is not one. */
export type IntsOf = (name: string) => number[] | undefined;

/** numpy/ONNX multidirectional broadcasting of two shapes. */
export function broadcastShapes(a: Shape, b: Shape): Shape {
  const n = Math.max(a.length, b.length);
  const out: Shape = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`cannot broadcast [${a}] with [${b}]`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

export const size = (s: Shape) => s.reduce((a, b) => a * b, 1);

/** A negative axis counted from the end, made non-negative. */
export const axisOf = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

function attrInt(attrs: Record<string, Attribute> | undefined, name: string, fallback: number): number {
  const a = attrs?.[name];
  return a && "i" in a ? a.i : fallback;
}

function attrInts(attrs: Record<string, Attribute> | undefined, name: string): number[] | undefined {
  const a = attrs?.[name];
  return a && "ints" in a ? a.ints : undefined;
}

/** Reduce* axes: the attribute (ReduceMean at opset 17) or the second input (ReduceSum since opset 13); all if neither. */
export function reduceAxes(
  opType: string,
  inputs: string[],
  attrs: Record<string, Attribute> | undefined,
  intsOf: IntsOf,
  rank: number,
): number[] {
  const axes = opType === "ReduceSum" && inputs[1] ? intsOf(inputs[1]) : attrInts(attrs, "axes");
  if (opType === "ReduceSum" && inputs[1] && !axes) throw new Error("ReduceSum: axes must be a constant");
  return (axes ?? Array.from({ length: rank }, (_, i) => i)).map((a) => axisOf(a, rank));
}

/** Resolves a Reshape target (0 = copy the input's dim, −1 = whatever is left). */
export function reshapeTarget(input: Shape, target: number[]): Shape {
  const out = target.map((d, i) => (d === 0 ? input[i] : d));
  const known = out.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const rest = out.indexOf(-1);
  if (rest >= 0) out[rest] = size(input) / known;
  if (!Number.isInteger(out[rest] ?? 0) || size(out) !== size(input)) throw new Error(`cannot reshape [${input}] to [${target}]`);
  return out;
}

/** Slice's per-axis [start, end) after clamping (steps of 1 only: all our graphs use). */
export function sliceBounds(
  input: Shape,
  starts: number[],
  ends: number[],
  axes: number[] | undefined,
): { axis: number; start: number; end: number }[] {
  return starts.map((s, i) => {
    const axis = axisOf(axes ? axes[i] : i, input.length);
    const dim = input[axis];
    const clamp = (v: number) => Math.max(0, Math.min(dim, v < 0 ? v + dim : v));
    return { axis, start: clamp(s), end: clamp(ends[i]) };
  });
}

/**
 * Output shapes of one node from its inputs' shapes, or undefined where an input's shape is unknown or the operator
 * is not one this file knows (the autodiff then refuses the value, so a differentiated graph never lacks a shape).
 */
export function inferShapes(
  opType: string,
  inputs: string[],
  shapes: (Shape | undefined)[],
  attrs: Record<string, Attribute> | undefined,
  nOut: number,
  intsOf: IntsOf,
): (Shape | undefined)[] | undefined {
  const needed = opType === "Reshape" || opType === "Expand" || opType === "ConstantOfShape" ? [0] : shapes.map((_, i) => i);
  if (opType === "ConstantOfShape") {
    const dims = intsOf(inputs[0]);
    return dims ? [dims] : undefined;
  }
  if (needed.some((i) => inputs[i] !== "" && !shapes[i])) return undefined;
  const x = shapes[0]!;
  switch (opType) {
    case "Add":
    case "Sub":
    case "Mul":
    case "Div":
    case "Pow":
    case "Equal":
    case "Greater":
    case "Less":
      return [broadcastShapes(x, shapes[1]!)];
    case "Where":
      return [broadcastShapes(broadcastShapes(x, shapes[1]!), shapes[2]!)];
    case "Sum":
      return [shapes.reduce<Shape>((a, s) => broadcastShapes(a, s!), [])];
    case "Identity":
    case "ScatterND":
    case "Cast":
    case "Neg":
    case "Sigmoid":
    case "Tanh":
    case "Exp":
    case "Softplus":
    case "Log":
    case "Abs":
    case "Clip":
    case "Sqrt":
    case "Relu":
    case "LeakyRelu":
    case "Softmax":
    case "LogSoftmax":
      return [x];
    case "LayerNormalization": {
      const axis = axisOf(attrInt(attrs, "axis", -1), x.length);
      const stats = x.map((d, i) => (i < axis ? d : 1));
      return [x, stats, stats].slice(0, nOut);
    }
    case "MatMul": {
      const b = shapes[1]!;
      if (x.length < 2 || b.length < 2) throw new Error("MatMul: rank-1 operands are not supported here");
      if (x[x.length - 1] !== b[b.length - 2]) throw new Error(`MatMul: [${x}] · [${b}]`);
      const batch = broadcastShapes(x.slice(0, -2), b.slice(0, -2));
      return [[...batch, x[x.length - 2], b[b.length - 1]]];
    }
    case "Gemm": {
      const b = shapes[1]!;
      const m = attrInt(attrs, "transA", 0) ? x[1] : x[0];
      const n = attrInt(attrs, "transB", 0) ? b[0] : b[1];
      return [[m, n]];
    }
    case "Gather": {
      const axis = axisOf(attrInt(attrs, "axis", 0), x.length);
      return [[...x.slice(0, axis), ...shapes[1]!, ...x.slice(axis + 1)]];
    }
    case "Reshape": {
      const target = intsOf(inputs[1]);
      if (!target) throw new Error("Reshape: the target shape must be a constant");
      return [reshapeTarget(x, target)];
    }
    case "Expand": {
      const target = intsOf(inputs[1]);
      if (!target) throw new Error("Expand: the target shape must be a constant");
      return [broadcastShapes(x, target)];
    }
    case "Transpose": {
      const perm = attrInts(attrs, "perm") ?? x.map((_, i) => x.length - 1 - i);
      return [perm.map((p) => x[p])];
    }
    case "Slice": {
      const [starts, ends] = [intsOf(inputs[1]), intsOf(inputs[2])];
      const axes = inputs[3] ? intsOf(inputs[3]) : undefined;
      if (!starts || !ends || (inputs[3] && !axes) || (inputs[4] && intsOf(inputs[4])?.some((s) => s !== 1)))
        throw new Error("Slice: starts, ends and axes must be constants and steps 1");
      const out = [...x];
      for (const { axis, start, end } of sliceBounds(x, starts, ends, axes)) out[axis] = Math.max(0, end - start);
      return [out];
    }
    case "Concat": {
      const axis = axisOf(attrInt(attrs, "axis", 0), x.length);
      const out = [...x];
      out[axis] = shapes.reduce((a, s) => a + s![axis], 0);
      return [out];
    }
    case "Split": {
      const axis = axisOf(attrInt(attrs, "axis", 0), x.length);
      const sizes = inputs[1] ? intsOf(inputs[1]) : Array.from({ length: nOut }, () => x[axis] / nOut);
      if (!sizes) throw new Error("Split: sizes must be a constant");
      return sizes.map((s) => x.map((d, i) => (i === axis ? s : d)));
    }
    case "ReduceSum":
    case "ReduceMean": {
      const axes = reduceAxes(opType, inputs, attrs, intsOf, x.length);
      const keep = attrInt(attrs, "keepdims", 1);
      return [keep ? x.map((d, i) => (axes.includes(i) ? 1 : d)) : x.filter((_, i) => !axes.includes(i))];
    }
    case "ArgMax":
    case "ArgMin": {
      const axis = axisOf(attrInt(attrs, "axis", 0), x.length);
      return [attrInt(attrs, "keepdims", 1) ? x.map((d, i) => (i === axis ? 1 : d)) : x.filter((_, i) => i !== axis)];
    }
    case "Pad": {
      // Any mode ("constant", "edge", "reflect"): the mode changes the values, not the shape.
      const pads = intsOf(inputs[1]);
      if (!pads) throw new Error("Pad: pads must be a constant");
      return [x.map((d, i) => d + pads[i] + pads[i + x.length])];
    }
    default:
      // Conv, ConvTranspose, DepthToSpace, SpaceToDepth; anything else is unknown here, and the autodiff refuses
      // to differentiate through a value without a shape.
      return inferConvShapes(opType, shapes, attrs);
  }
}
