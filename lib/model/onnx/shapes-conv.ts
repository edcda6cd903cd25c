// Static shapes of the convolution-family operators (Conv, ConvTranspose, DepthToSpace, SpaceToDepth), kept apart
// from ./shapes.ts so that file stays the elementwise/matrix core, and the attribute geometry the gradient rules in
// ./vjp-conv.ts reuse. Layout NC + spatial dims (NCHW in 2-D), as the ONNX operator spec at opset 17 defines them:
// https://onnx.ai/onnx/operators/onnx__Conv.html, onnx__ConvTranspose.html, onnx__DepthToSpace.html,
// onnx__SpaceToDepth.html. This file imports no values from ./shapes.ts, which dispatches to it.
import type { Attribute } from "./proto";
import type { Shape } from "./shapes";

type Attrs = Record<string, Attribute> | undefined;

export function attrInt(attrs: Attrs, name: string, fallback: number): number {
  const a = attrs?.[name];
  return a && "i" in a ? a.i : fallback;
}

export function attrString(attrs: Attrs, name: string, fallback: string): string {
  const a = attrs?.[name];
  return a && "s" in a ? a.s : fallback;
}

function attrInts(attrs: Attrs, name: string): number[] | undefined {
  const a = attrs?.[name];
  return a && "ints" in a ? a.ints : undefined;
}

/** A Conv/ConvTranspose node's geometry with the spec's defaults filled in (pads: all begins, then all ends). */
export interface ConvGeometry {
  strides: number[];
  pads: number[];
  dilations: number[];
  group: number;
  /** ConvTranspose only: extra rows/columns at the high end of the output. */
  outputPadding: number[];
}

/** The geometry of a node with `spatial` spatial axes. Explicit pads only: auto_pad SAME_* is refused, not guessed. */
export function convGeometry(attrs: Attrs, spatial: number): ConvGeometry {
  const autoPad = attrString(attrs, "auto_pad", "NOTSET");
  if (autoPad !== "NOTSET" && autoPad !== "VALID") throw new Error(`Conv: auto_pad ${autoPad} is not supported, give explicit pads`);
  if (attrInts(attrs, "output_shape")) throw new Error("ConvTranspose: give pads and output_padding, not output_shape");
  const ones = new Array<number>(spatial).fill(1);
  const zeros = new Array<number>(spatial).fill(0);
  return {
    strides: attrInts(attrs, "strides") ?? ones,
    pads: autoPad === "VALID" ? [...zeros, ...zeros] : (attrInts(attrs, "pads") ?? [...zeros, ...zeros]),
    dilations: attrInts(attrs, "dilations") ?? ones,
    group: attrInt(attrs, "group", 1),
    outputPadding: attrInts(attrs, "output_padding") ?? zeros,
  };
}

/** Conv's output size along spatial axis i of input size n and kernel size k (the spec's floor formula). */
export function convOutSize(a: ConvGeometry, i: number, n: number, k: number): number {
  const r = a.strides.length;
  return Math.floor((n + a.pads[i] + a.pads[i + r] - (k - 1) * a.dilations[i] - 1) / a.strides[i]) + 1;
}

/** ConvTranspose's output size along spatial axis i (output_padding as given in `a`). */
export function convTransposeOutSize(a: ConvGeometry, i: number, n: number, k: number): number {
  const r = a.strides.length;
  return a.strides[i] * (n - 1) + a.outputPadding[i] + (k - 1) * a.dilations[i] + 1 - a.pads[i] - a.pads[i + r];
}

/** Output shapes of the operators above, or undefined for any other operator. Input shapes must be known. */
export function inferConvShapes(opType: string, shapes: (Shape | undefined)[], attrs: Attrs): Shape[] | undefined {
  const x = shapes[0]!;
  switch (opType) {
    case "Conv":
    case "ConvTranspose": {
      // X [N, C, ...], W [M, C/group, ...k] for Conv and [C, M/group, ...k] for ConvTranspose.
      const w = shapes[1]!;
      const a = convGeometry(attrs, x.length - 2);
      const k = w.slice(2);
      const size = opType === "Conv" ? convOutSize : convTransposeOutSize;
      const channels = opType === "Conv" ? w[0] : w[1] * a.group;
      return [[x[0], channels, ...k.map((kk, i) => size(a, i, x[i + 2], kk))]];
    }
    case "DepthToSpace": {
      const b = attrInt(attrs, "blocksize", 0);
      if (b < 1 || x.length !== 4 || x[1] % (b * b)) throw new Error(`DepthToSpace: [${x}] with blocksize ${b}`);
      return [[x[0], x[1] / (b * b), x[2] * b, x[3] * b]];
    }
    case "SpaceToDepth": {
      const b = attrInt(attrs, "blocksize", 0);
      if (b < 1 || x.length !== 4 || x[2] % b || x[3] % b) throw new Error(`SpaceToDepth: [${x}] with blocksize ${b}`);
      return [[x[0], x[1] * b * b, x[2] / b, x[3] / b]];
    }
    default:
      return undefined;
  }
}
