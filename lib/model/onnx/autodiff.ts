// Reverse-mode automatic differentiation over our own ONNX graphs (Griewank & Walther 2008; the same scheme as
// PyTorch's autograd and tfjs's tape, done once at graph-build time): walk the nodes backwards from a scalar loss,
// give each node's output gradients to its operator's vector–Jacobian product (./vjp.ts), and sum the gradients of
// a value used more than once. The result is more nodes in the same graph, so ONNX Runtime's native kernels run
// the backward pass too; onnxruntime-node has no training API and needs none.
import { isStopGradient, type GraphBuilder } from "./graph";
import type { NodeProto } from "./proto";
import type { Shape } from "./shapes";
import { vjp } from "./vjp";

/** Operators whose outputs carry no gradient back to their inputs (comparisons, casts, shape makers). */
const NOT_DIFFERENTIABLE = new Set(["Equal", "Greater", "Less", "Cast", "Shape", "ConstantOfShape", "ArgMax", "ArgMin", "Not"]);

/** A node the backward pass does not go through: the operators above and GraphBuilder.stopGradient's Identity. */
const opaque = (n: NodeProto, planted?: PlantedGradientBugs) =>
  NOT_DIFFERENTIABLE.has(n.opType) || (isStopGradient(n) && !planted?.stopGradientLeaks);

/** Inputs of an operator that are indices or conditions, never differentiated through. */
const INDEX_INPUTS: Record<string, number[]> = { Gather: [1], Where: [0], Reshape: [1], Slice: [1, 2, 3, 4], Split: [1], Pad: [1, 2] };

/** What a VJP rule sees: the builder, the node, and the static shape of any value. */
export interface VjpContext {
  g: GraphBuilder;
  node: NodeProto;
  shape(value: string): Shape;
  /** Whether input i needs a gradient (rules skip the work for the others). */
  wants(i: number): boolean;
  planted?: PlantedGradientBugs;
}

/** Deliberate deviations for the tests that prove the checks can tell (never set them in code). */
export interface PlantedGradientBugs {
  /** A value used twice gets only its first use's gradient. */
  countOnce?: boolean;
  /** MatMul's dA multiplies by B instead of Bᵀ. */
  transposedMatMul?: boolean;
  /** Broadcast axes are sliced instead of summed. */
  missingReduction?: boolean;
  /** A mask (Where's condition, a Mul by a constant mask) passes the gradient through unmasked. */
  maskDropped?: boolean;
  /** Conv's input gradient as a Conv of the transposed kernel without its spatial flip (stride 1). */
  unflippedKernel?: boolean;
  /** Conv's weight gradient by taps read back channel-major ([M, C, k²]) where the Gemm wrote it tap-major. */
  tapsChannelMajor?: boolean;
  /** Conv's and ConvTranspose's weight gradients stride by the forward's strides instead of dilating by them. */
  stridedWeightGradient?: boolean;
  /** DepthToSpace and SpaceToDepth undone with the other mode (DCR ↔ CRD). */
  depthToSpaceMode?: boolean;
  /** Edge padding's gradient is the interior only: the replicated border's gradient is not summed back. */
  edgeNotSummed?: boolean;
  /** LeakyRelu's negative side passes no gradient (Relu's rule). */
  leakySlopeDropped?: boolean;
  /** A stop-gradient lets the gradient through (a plain Identity). */
  stopGradientLeaks?: boolean;
}

export interface GradientOptions {
  planted?: PlantedGradientBugs;
}

/**
 * Adds to `g` the nodes computing d loss / d v for every v in `wrt` (graph inputs or weights) and returns their
 * names. `loss` must be a scalar. A value the loss does not depend on gets zeros of its shape.
 */
export function addGradients(g: GraphBuilder, loss: string, wrt: string[], options: GradientOptions = {}): Map<string, string> {
  const nodes = [...g.graphNodes()];
  const shape = (v: string): Shape => {
    const s = g.shapeOf(v);
    if (!s) throw new Error(`autodiff: no static shape for "${v}" (differentiate graphs with fixed shapes only)`);
    return s;
  };
  if (shape(loss).length !== 0) throw new Error(`autodiff: the loss must be a scalar, "${loss}" has shape [${shape(loss)}]`);

  // Forward: which values depend on a parameter (only those get gradients).
  const live = new Set(wrt);
  for (const n of nodes) {
    if (opaque(n, options.planted)) continue;
    const skip = INDEX_INPUTS[n.opType] ?? [];
    if (n.inputs.some((v, i) => !skip.includes(i) && live.has(v))) n.outputs.forEach((o) => live.add(o));
  }
  if (!live.has(loss)) throw new Error("autodiff: the loss does not depend on any of the given inputs");

  // Backward: contributions to each value's gradient, summed when a value was used more than once.
  const parts = new Map<string, string[]>([[loss, [g.scalar(1)]]]);
  const total = (v: string): string | undefined => {
    const p = parts.get(v);
    if (!p?.length) return undefined;
    if (p.length === 1 || options.planted?.countOnce) return p[0];
    return g.op("Sum", p);
  };
  for (let k = nodes.length - 1; k >= 0; k--) {
    const node = nodes[k];
    if (opaque(node, options.planted) || !node.outputs.some((o) => parts.has(o))) continue;
    const skip = INDEX_INPUTS[node.opType] ?? [];
    const wants = (i: number) => !skip.includes(i) && live.has(node.inputs[i]);
    if (!node.inputs.some((_, i) => wants(i))) continue;
    const dys = node.outputs.map(total);
    const dxs = vjp({ g, node, shape, wants, planted: options.planted }, dys);
    dxs.forEach((dx, i) => {
      if (!dx || !wants(i)) return;
      const v = node.inputs[i];
      if (!parts.has(v)) parts.set(v, []);
      parts.get(v)!.push(dx);
    });
  }
  return new Map(wrt.map((v) => [v, total(v) ?? g.zeros(shape(v))]));
}
