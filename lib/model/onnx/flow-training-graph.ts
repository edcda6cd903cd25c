// Real-NVP's training step (../flow.ts: the mean over the batch of RealNVP.bitsPerDim, as training/lab/flow-task.ts
// takes it) as one ONNX graph with, through ./autodiff.ts, its gradient with respect to every parameter, so ONNX
// Runtime's native kernels run the whole step. The dequantisation noise u ~ U[0, 1) is not drawn in the graph: the
// caller feeds the u that dequantise draws for the step's seed, so the graph scores the very y the tape does.
// Activations are NCHW (ONNX's Conv); the flow's z is only ever summed over (the prior's Σ z²), so the order its
// parts are flattened in does not matter and the factored-out halves are summed where they leave. Parameters are
// graph inputs named as the ParamStore names them (flow.s<i>.cb<j>.*, flow.s<i>.ch<j>.*).
import {
  CHANNEL_COUPLINGS,
  CHECKERBOARD_COUPLINGS,
  FINAL_CHECKERBOARD_COUPLINGS,
  flowDims,
  validateFlowConfig,
  type FlowConfig,
} from "../flow-config";
import { addGradients, type PlantedGradientBugs } from "./autodiff";
import { ConvNodes, type PlantedConvBugs } from "./conv-nodes";
import { DataType, GraphBuilder } from "./graph";

/** Deliberate deviations from the tfjs loss, for tests that prove the equality checks can tell (never set them in code). */
export interface PlantedFlowBugs {
  /** The couplings' log-determinants left out of log p(y) (the logit transform's kept). */
  logDetDropped?: boolean;
  /** The transformed half multiplied by exp(−s) while the log-det still counts +s. */
  scaleSignFlipped?: boolean;
  /** Every coupling keeps the same half: checkerboard parity 0 and channel half 0 throughout. */
  maskNotAlternated?: boolean;
  /** y = x/256: the fed u never added. */
  noiseIgnored?: boolean;
}

export type PlantedFlowGraphBugs = PlantedGradientBugs & PlantedConvBugs & PlantedFlowBugs;

const LN2 = Math.log(2);
const LOG_256 = Math.log(256);
const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** The graph's inputs besides the parameters (the same names for every batch size). */
export const FLOW_GRAPH_INPUTS = Object.freeze({ images: "images", noise: "noise" });

/** A coupling's place in the stack and what it transforms (createCoupling's arguments in ../flow-coupling.ts). */
interface CouplingSpec {
  name: string;
  mask: "checkerboard" | "channel";
  which: 0 | 1;
  /** C of the tensor the coupling transforms. */
  channels: number;
  width: number;
}

class FlowNodes {
  readonly g: GraphBuilder;
  private readonly masks = new Map<string, string>();

  constructor(
    readonly n: ConvNodes,
    readonly c: FlowConfig,
    readonly batch: number,
    readonly planted: PlantedFlowBugs,
  ) {
    this.g = n.g;
  }

  /** checkerboardMask of ../flow-coupling.ts, NCHW: [rows, 1, side, side], 1 where (h + w) % 2 === parity (kept). */
  private mask(side: number, parity: 0 | 1, rows: number): string {
    const key = `mask.${parity}.${side}.${rows}`;
    let m = this.masks.get(key);
    if (!m) {
      const values = new Float32Array(rows * side * side);
      for (let r = 0; r < rows; r++)
        for (let i = 0; i < side; i++) for (let j = 0; j < side; j++) values[(r * side + i) * side + j] = (i + j) % 2 === parity ? 1 : 0;
      m = this.g.weight(key, values, [rows, 1, side, side]);
      this.masks.set(key, m);
    }
    return m;
  }

  /** scaleAndShift of ../flow-coupling.ts: x [B, ci, H, W] → s = scale · tanh(raw) and t, [B, co, H, W] each. */
  private scaleAndShift(s: CouplingSpec, x: string, ci: number, co: number): { s: string; t: string } {
    const { g, n } = this;
    let h = n.conv(x, `${s.name}.in`, 3, ci, s.width); // [B, width, H, W]
    for (let j = 0; j < this.c.resBlocks; j++) h = n.resBlock(h, `${s.name}.res${j}`, s.width, "zero");
    const out = n.conv(n.relu(h), `${s.name}.out`, 3, s.width, 2 * co); // [B, 2·co, H, W]
    const [raw, t] = g.opN("Split", [out, g.ints([co, co])], 2, { axis: { i: 1 } }); // [B, co, H, W] each
    // The bound is per channel, the last axis in tfjs's NHWC: here it broadcasts over H and W.
    const scale = g.op("Reshape", [n.w(`${s.name}.scale`, [co]), g.ints([co, 1, 1])]); // [co, 1, 1]
    return { s: g.op("Mul", [scale, g.op("Tanh", [raw])]), t };
  }

  /** x ⊙ exp(s) + t (or the planted exp(−s)). */
  private affine(x: string, s: string, t: string): string {
    const g = this.g;
    const e = g.op("Exp", [this.planted.scaleSignFlipped ? g.op("Neg", [s]) : s]);
    return g.op("Add", [g.op("Mul", [x, e]), t]);
  }

  /** Σ s over an image: [B, co, H, W] → [B]. */
  private perImage(v: string): string {
    return this.g.op("ReduceSum", [v, this.g.ints([1, 2, 3])], { keepdims: { i: 0 } });
  }

  /** couplingForward of ../flow-coupling.ts: x [B, C, H, W] → y (same shape) and log|det ∂y/∂x| [B]. */
  coupling(s: CouplingSpec, x: string, side: number): { y: string; logDet: string } {
    const g = this.g;
    const which = this.planted.maskNotAlternated ? 0 : s.which;
    if (s.mask === "checkerboard") {
      const kept = this.mask(side, which, 1); // [1, 1, H, W]
      const free = g.op("Sub", [g.scalar(1), kept]); // [1, 1, H, W]
      // The net sees the kept pixels and the mask itself as one more channel (createCoupling).
      const input = g.op("Concat", [g.op("Mul", [x, kept]), this.mask(side, which, this.batch)], { axis: { i: 1 } }); // [B, C+1, H, W]
      const st = this.scaleAndShift(s, input, s.channels + 1, s.channels);
      const sm = g.op("Mul", [st.s, free]);
      return { y: this.affine(x, sm, g.op("Mul", [st.t, free])), logDet: this.perImage(sm) };
    }
    const half = s.channels / 2;
    const [first, second] = g.opN("Split", [x, g.ints([half, half])], 2, { axis: { i: 1 } }); // [B, C/2, H, W] each
    const [kept, free] = which === 0 ? [first, second] : [second, first];
    const st = this.scaleAndShift(s, kept, half, half);
    const moved = this.affine(free, st.s, st.t);
    return { y: g.op("Concat", which === 0 ? [kept, moved] : [moved, kept], { axis: { i: 1 } }), logDet: this.perImage(st.s) };
  }
}

export interface FlowTrainingGraphOptions {
  /** Rows per batch (the graph's shapes are static). */
  batch: number;
  /** Add the gradient outputs (a loss-only graph serves checks). */
  gradients: boolean;
  planted?: PlantedFlowGraphBugs;
}

export interface FlowTrainingGraph {
  bytes: Uint8Array;
  nodes: number;
  /** Every trainable parameter the graph reads (ParamStore names = input names). */
  params: string[];
  names: {
    /** The batch, uint8 [B, S, S, C] (0..255, as the task's planned batch holds it). */
    images: string;
    /** u ~ U[0, 1), float32 [B, S, S, C]: what dequantise draws for the step's seed. */
    noise: string;
    /** Mean bits/dim of the batch. */
    loss: string;
    /** No logged terms (the loss is the bits/dim itself), kept for the engine's interface. */
    logs: Record<string, string>;
    /** d loss / d parameter, by parameter name. */
    grads: Record<string, string>;
  };
}

export function exportFlowTrainingGraph(c: FlowConfig, o: FlowTrainingGraphOptions): FlowTrainingGraph {
  validateFlowConfig(c);
  const { imageSize: size, channels: ch, alpha: a } = c;
  const b = o.batch;
  const planted = o.planted ?? {};
  const dims = flowDims(c);
  const g = new GraphBuilder("tessera-flow-train");
  const n = new ConvNodes(g, { kind: "inputs" }, o.planted);
  const f = new FlowNodes(n, c, b, planted);

  const images = g.input(FLOW_GRAPH_INPUTS.images, DataType.UINT8, [b, size, size, ch]);
  const noise = g.input(FLOW_GRAPH_INPUTS.noise, DataType.FLOAT, [b, size, size, ch]);
  // dequantise: y = (x + u)/256 in [0, 1).
  const levels = g.op("Cast", [images], { to: { i: DataType.FLOAT } }); // [B, S, S, C]
  const dequantised = g.op("Div", [planted.noiseIgnored ? levels : g.op("Add", [levels, noise]), g.scalar(256)]); // [B, S, S, C]
  const y = g.op("Transpose", [dequantised], { perm: { ints: [0, 3, 1, 2] } }); // [B, C, S, S]

  // The logit transform h = logit(p), p = α + (1 − 2α)·y, with its log-det Σ log((1 − 2α)/(p(1 − p))). It reads no
  // parameter, so it is a constant to the backward pass; written out because the loss includes it.
  const p = g.op("Add", [g.scalar(a), g.op("Mul", [y, g.scalar(1 - 2 * a)])]); // [B, C, S, S]
  const [logP, log1mP] = [g.op("Log", [p]), g.op("Log", [g.op("Sub", [g.scalar(1), p])])];
  let h = g.op("Sub", [logP, log1mP]); // [B, C, S, S]
  const logitLogDet = g.op("ReduceSum", [g.op("Sub", [g.scalar(Math.log(1 - 2 * a)), g.op("Add", [logP, log1mP])]), g.ints([1, 2, 3])], {
    keepdims: { i: 0 },
  }); // [B]

  // The multi-scale stack of RealNVP's constructor and forward (§3.6).
  const couplingLogDets: string[] = [];
  const squares: string[] = []; // Σ z² of each part of z, [B] each
  const sumSq = (v: string) => g.op("ReduceSum", [g.op("Mul", [v, v]), g.ints([1, 2, 3])], { keepdims: { i: 0 } }); // [B]
  for (let i = 0; i < c.scales; i++) {
    const side = size / 2 ** i;
    const channels = ch * 2 ** i;
    const last = i === c.scales - 1;
    const apply = (mask: CouplingSpec["mask"], j: number, cs: number, at: number) => {
      const kind = mask === "checkerboard" ? "cb" : "ch";
      const r = f.coupling({ name: `flow.s${i}.${kind}${j}`, mask, which: (j % 2) as 0 | 1, channels: cs, width: c.hidden[i] }, h, at);
      h = r.y;
      couplingLogDets.push(r.logDet);
    };
    for (let j = 0; j < (last ? FINAL_CHECKERBOARD_COUPLINGS : CHECKERBOARD_COUPLINGS); j++) apply("checkerboard", j, channels, side);
    if (last) break;
    h = n.spaceToDepth(h); // [B, 4C, side/2, side/2]: a permutation, log-det 0
    for (let j = 0; j < CHANNEL_COUPLINGS; j++) apply("channel", j, 4 * channels, side / 2);
    const [kept, out] = g.opN("Split", [h, g.ints([2 * channels, 2 * channels])], 2, { axis: { i: 1 } }); // [B, 2C, side/2, side/2] each
    squares.push(sumSq(out)); // factored out to the prior
    h = kept;
  }
  squares.push(sumSq(h));

  // logProb: log N(z; 0, I) + log-det; bitsPerDimOfLogDensity; the task's loss is the batch mean.
  const prior = g.op("Sub", [g.op("Mul", [g.op("Sum", squares), g.scalar(-0.5)]), g.scalar(dims * HALF_LOG_2PI)]); // [B]
  const logDet = planted.logDetDropped ? logitLogDet : g.op("Sum", [logitLogDet, ...couplingLogDets]); // [B]
  const logProb = g.op("Add", [prior, logDet]); // [B]
  const bpd = g.op("Div", [g.op("Sub", [g.scalar(dims * LOG_256), logProb]), g.scalar(dims * LN2)]); // [B]
  const loss = g.op("ReduceMean", [bpd], { keepdims: { i: 0 } });

  const params = n.params();
  const grads: Record<string, string> = {};
  if (o.gradients) {
    const dp = addGradients(g, loss, params, { planted: o.planted });
    for (const q of params) {
      grads[q] = `grad.${q}`;
      g.output(dp.get(q)!, grads[q], DataType.FLOAT, g.shapeOf(q)!);
    }
  }
  g.output(loss, "loss", DataType.FLOAT, []);
  return { bytes: g.toBytes(), nodes: g.nodeCount(), params, names: { images, noise, loss: "loss", logs: {}, grads } };
}
