// The VQ-VAE bottleneck (van den Oord et al. 2017, eq. 3) as graph nodes, mirroring ../vector-quantizer.ts's
// quantize: nearest-code lookup, the straight-through output and the two stop-gradient losses. The EMA codebook
// update (appendix A.1) is not a gradient and stays outside the graph. Everything the estimator needs from the
// autodiff is GraphBuilder.stopGradient: sg is an Identity the backward pass does not enter.
import type { GraphBuilder } from "./graph";

export interface VqNodes {
  /** Nearest code per row, [N] int64 (ties: the lowest index, as tf.argMin). */
  codes: string;
  /** e[codes], [N, D]. */
  zQ: string;
  /** z + sg(zQ − z): zQ forward, the upstream gradient handed to z unchanged backward, none to the codebook. */
  zQst: string;
  /** mean‖z − sg(zQ)‖² (weighted by β in the loss): pulls the encoder towards its codes, never moves them. */
  commitment: string;
  /** mean‖sg(z) − zQ‖²: moves the used codes towards the encoder outputs, never the encoder. */
  codebook: string;
}

/** z: [N, D] encoder outputs, e: [K, D] codebook. Means over all N·D elements, as tf.mean in the tfjs model. */
export function vectorQuantize(g: GraphBuilder, z: string, e: string): VqNodes {
  const rowSq = (v: string, keep: number) => g.op("ReduceSum", [g.op("Mul", [v, v]), g.ints([1])], { keepdims: { i: keep } });
  // ‖z‖² − 2 z·eᵀ + ‖e‖², [N, K] (only its argmin is used, so no gradient flows through it).
  const cross = g.op("Gemm", [z, e], { transB: { i: 1 } });
  const dist = g.op("Add", [g.op("Sub", [rowSq(z, 1), g.op("Mul", [cross, g.scalar(2)])]), rowSq(e, 0)]);
  const codes = g.op("ArgMin", [dist], { axis: { i: 1 }, keepdims: { i: 0 } });
  const zQ = g.op("Gather", [e, codes], { axis: { i: 0 } });
  const meanSq = (v: string) => g.op("ReduceMean", [g.op("Mul", [v, v])], { keepdims: { i: 0 } });
  return {
    codes,
    zQ,
    zQst: g.op("Add", [z, g.stopGradient(g.op("Sub", [zQ, z]))]),
    commitment: meanSq(g.op("Sub", [z, g.stopGradient(zQ)])),
    codebook: meanSq(g.op("Sub", [g.stopGradient(z), zQ])),
  };
}
