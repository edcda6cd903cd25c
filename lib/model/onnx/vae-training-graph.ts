// The lab's VAE's training step (../vae.ts: mean over the batch of VAE.terms' negElbo per pixel value, as
// training/lab/vae-task.ts takes it) as one ONNX graph with, through ./autodiff.ts, its gradient with respect to
// every parameter, so ONNX Runtime's native kernels run the whole step. The reparameterisation noise ε is not drawn
// in the graph: the caller feeds the ε ~ N(0, I) that VAE.terms draws for the step's seed, so the graph decodes the
// very z the tape does; the KL weight of the warm-up is a scalar input too. Every likelihood of ../vae-config.ts is
// written here: the three dequantised Gaussians and the discretised logistic. Parameters are graph inputs named as
// the ParamStore names them. The encoder, decoder and likelihood nodes, the batch input's and the step's outputs are
// exported for the AAE's graph (./aae-training-graph.ts), which shares the VAE's networks.
import { bottomSize, BIN_WIDTH, pixelDims, spreadFloor, type VAEConfig } from "../vae-config";
import { addGradients, type PlantedGradientBugs } from "./autodiff";
import { ConvNodes, type PlantedConvBugs } from "./conv-nodes";
import { DataType, GraphBuilder } from "./graph";

/** Deliberate deviations from the tfjs loss, for tests that prove the equality checks can tell (never set them in code). */
export interface PlantedVaeBugs {
  /** The loss is the reconstruction term alone (no KL). */
  klDropped?: boolean;
  /** The KL enters with weight 1 (the warm-up's weight ignored). */
  klWeightDropped?: boolean;
  /** The encoder's second head read as σ instead of log σ²: z = μ + h ⊙ ε. */
  headAsSigma?: boolean;
  /** z = μ + sg(σ ⊙ ε): the reconstruction term no longer trains log σ² (only the KL does). */
  noiseStopped?: boolean;
  /** The discretised logistic without its edge bins: levels 0 and 255 get an interior bin's mass, not the tails. */
  binEdgesForgotten?: boolean;
  /** The decoder's mean left on the [−1, 1] scale (no (m + 1)/2). */
  meanUnshifted?: boolean;
}

export type PlantedVaeGraphBugs = PlantedGradientBugs & PlantedConvBugs & PlantedVaeBugs;

const LOG_2PI = Math.log(2 * Math.PI);

/** Where log1mExpNeg switches from its series to the direct form (as ../discretized-logistic.ts). */
const SERIES_BELOW = 0.01;

/**
 * VAE.encode on x [B, C, S, S] (NCHW, in [0, 1]) → μ and log σ², [B, d] each. The parameters are named "vae.enc.*"
 * in the VAE's store and in the AAE's alike (the AAE's VAE owns its store).
 */
export function vaeEncoderNodes(n: ConvNodes, c: VAEConfig, x: string): { mu: string; logVar: string } {
  const g = n.g;
  const s = bottomSize(c);
  const deepest = c.widths[c.widths.length - 1];
  const flat = s * s * deepest;
  const signed = g.op("Sub", [g.op("Mul", [x, g.scalar(2)]), g.scalar(1)]); // [B, C, S, S] in [−1, 1]
  const h = n.downStages(signed, "vae.enc", c.channels, c.widths, c.resBlocks, c.padding); // [B, C_last, s, s]
  // tfjs flattens NHWC: the same order here, so the head's weight rows mean the same positions.
  const nhwc = g.op("Transpose", [n.relu(h)], { perm: { ints: [0, 2, 3, 1] } }); // [B, s, s, C_last]
  const rows = g.op("Reshape", [nhwc, g.ints([-1, flat])]); // [B, s·s·C_last]
  const head = dense(n, rows, "vae.enc.head", flat, 2 * c.latentDim); // [B, 2d]
  const [mu, logVar] = g.opN("Split", [head, g.ints([c.latentDim, c.latentDim])], 2, { axis: { i: 1 } }); // [B, d] each
  return { mu, logVar };
}

/**
 * VAE.decodeDistribution on z [B, d] → the per-pixel mean and spread, [B, C, S, S] each (NCHW). The spread is
 * log σ² for the Gaussians and ln s for the logistic (the tfjs decoder turns ln s into the logistic's log-variance
 * and pixelNll turns it back: the same value up to rounding); "gaussian-fixed" gives the floor itself, a scalar.
 */
export function vaeDecoderNodes(n: ConvNodes, c: VAEConfig, z: string, planted: PlantedVaeBugs = {}): { mean: string; spread: string } {
  const g = n.g;
  const s = bottomSize(c);
  const deepest = c.widths[c.widths.length - 1];
  const flat = dense(n, z, "vae.dec.in", c.latentDim, s * s * deepest); // [B, s·s·C_last]
  const nhwc = g.op("Reshape", [flat, g.ints([-1, s, s, deepest])]); // [B, s, s, C_last], as tfjs reshapes
  const bottom = g.op("Transpose", [nhwc], { perm: { ints: [0, 3, 1, 2] } }); // [B, C_last, s, s]
  const h = n.upStages(bottom, "vae.dec", c.widths, c.resBlocks, c.padding, c.widths[0]); // [B, widths[0], S, S]
  const out = n.conv(n.relu(h), "vae.dec.out", 3, c.widths[0], 2 * c.channels, c.padding); // [B, 2C, S, S]
  const [m, raw] = g.opN("Split", [out, g.ints([c.channels, c.channels])], 2, { axis: { i: 1 } }); // [B, C, S, S] each
  const mean = planted.meanUnshifted ? m : g.op("Mul", [g.op("Add", [m, g.scalar(1)]), g.scalar(0.5)]); // [−1, 1] → [0, 1]
  const { floor, offset } = spreadFloor(c);
  // "gaussian-fixed": the floor is the spread (raw then gets no gradient), else floor + softplus(gain·raw + c).
  if (c.likelihood === "gaussian-fixed") return { mean, spread: g.scalar(floor) };
  const learned = g.op("Softplus", [g.op("Add", [g.op("Mul", [raw, g.scalar(c.logVarGain)]), g.scalar(offset)])]);
  return { mean, spread: g.op("Add", [learned, g.scalar(floor)]) };
}

/** x·W + b with the ParamStore's `${name}.w` [in, out] and `${name}.b` [out]. [B, in] → [B, out] */
function dense(n: ConvNodes, x: string, name: string, inDim: number, outDim: number): string {
  return n.g.op("Add", [n.g.op("MatMul", [x, n.w(`${name}.w`, [inDim, outDim])]), n.w(`${name}.b`, [outDim])]);
}

/** Σ over every axis but the batch's: [B, C, S, S] → [B]. */
const perImage = (g: GraphBuilder, v: string) => g.op("ReduceSum", [v, g.ints([1, 2, 3])], { keepdims: { i: 0 } });

/**
 * −log P(x) per image in nats of the discrete data under c.likelihood (VAE.pixelNll). levels: the 8-bit values as
 * floats [B, C, S, S]; mean and spread as vaeDecoderNodes gives them. → [B]
 */
export function pixelNllNodes(
  g: GraphBuilder,
  c: VAEConfig,
  levels: string,
  mean: string,
  spread: string,
  planted: PlantedVaeBugs = {},
): string {
  // (x + ½)·δ − μ: the bin centre's offset from the mean, in both families.
  const centred = g.op("Sub", [g.op("Mul", [g.op("Add", [levels, g.scalar(0.5)]), g.scalar(BIN_WIDTH)]), mean]); // [B, C, S, S]
  if (c.likelihood === "logistic") return g.op("Neg", [perImage(g, logisticLogProb(g, levels, centred, spread, planted))]);
  // dequantizedGaussianNll (../vae-elbo.ts): ½(log 2π + log σ² + E_u[(y − m)²]/σ²) + log 256 per value.
  const sq = g.op("Add", [g.op("Mul", [centred, centred]), g.scalar((BIN_WIDTH * BIN_WIDTH) / 12)]); // E_u[(y − m)²]
  const perValue = g.op("Mul", [
    g.op("Add", [g.op("Add", [spread, g.scalar(LOG_2PI)]), g.op("Mul", [sq, g.op("Exp", [g.op("Neg", [spread])])])]),
    g.scalar(0.5),
  ]); // [B, C, S, S]
  return g.op("Add", [perImage(g, perValue), g.scalar(pixelDims(c) * Math.log(1 / BIN_WIDTH))]);
}

/**
 * discretizedLogisticLogProb of ../discretized-logistic.ts: log P(x) per value, with a = (x⁺ − μ)/s and
 * b = (x⁻ − μ)/s, (a − softplus(a)) − softplus(b) + log(1 − e^−Δ) inside, the one-sided terms at levels 0 and 255.
 * logScale is ln s. → [B, C, S, S]
 */
function logisticLogProb(g: GraphBuilder, levels: string, centred: string, logScale: string, planted: PlantedVaeBugs): string {
  const invS = g.op("Exp", [g.op("Neg", [logScale])]);
  const a = g.op("Mul", [g.op("Add", [centred, g.scalar(BIN_WIDTH / 2)]), invS]); // (x⁺ − μ)/s
  const b = g.op("Mul", [g.op("Sub", [centred, g.scalar(BIN_WIDTH / 2)]), invS]); // (x⁻ − μ)/s
  const logCdfUpper = g.op("Sub", [a, g.op("Softplus", [a])]); // log σ(a)
  const logSfLower = g.op("Neg", [g.op("Softplus", [b])]); // log(1 − σ(b))
  const interior = g.op("Add", [g.op("Add", [logCdfUpper, logSfLower]), log1mExpNeg(g, g.op("Mul", [invS, g.scalar(BIN_WIDTH)]))]);
  if (planted.binEdgesForgotten) return interior;
  const at = (level: number) => g.op("Equal", [levels, g.scalar(level)]);
  return g.op("Where", [at(0), logCdfUpper, g.op("Where", [at(255), logSfLower, interior])]);
}

/**
 * log(1 − e^−Δ) for Δ > 0, the two branches of ../discretized-logistic.ts: below 0.01 the series log Δ +
 * log(1 − Δ/2 + Δ²/6), above it the direct form on max(Δ, 0.01). The tfjs version gives its gradient 1/(e^Δ − 1) by
 * hand; here the autodiff differentiates each branch (Where sends the gradient only into the branch taken): the
 * series' derivative is 1/Δ − ½ + Δ/12 + O(Δ²), the direct form's e^−Δ/(1 − e^−Δ), both that same 1/(e^Δ − 1).
 */
function log1mExpNeg(g: GraphBuilder, delta: string): string {
  const small = g.op("Less", [delta, g.scalar(SERIES_BELOW)]);
  const poly = g.op("Add", [g.op("Mul", [delta, g.scalar(-0.5)]), g.op("Div", [g.op("Mul", [delta, delta]), g.scalar(6)])]);
  const series = g.op("Add", [g.op("Log", [delta]), g.op("Log", [g.op("Add", [poly, g.scalar(1)])])]);
  // The clamp keeps the branch not taken finite (log 0 would make its masked gradient 0·∞).
  const clamped = g.op("Where", [small, g.scalar(SERIES_BELOW), delta]);
  const direct = g.op("Log", [g.op("Sub", [g.scalar(1), g.op("Exp", [g.op("Neg", [clamped])])])]);
  return g.op("Where", [small, series, direct]);
}

/** gaussianKl of ../vae-elbo.ts: ½ Σ_j (μ_j² + σ_j² − 1 − log σ_j²). [B, d] each → [B] */
export function gaussianKlNodes(g: GraphBuilder, mu: string, logVar: string): string {
  const inner = g.op("Sub", [g.op("Add", [g.op("Mul", [mu, mu]), g.op("Exp", [logVar])]), g.op("Add", [logVar, g.scalar(1)])]); // [B, d]
  return g.op("Mul", [g.op("ReduceSum", [inner, g.ints([1])], { keepdims: { i: 0 } }), g.scalar(0.5)]);
}

/** reparameterize of ../vae-elbo.ts: z = μ + exp(½ log σ²) ⊙ ε. [B, d] each → [B, d] */
export function reparameterizeNodes(g: GraphBuilder, mu: string, logVar: string, eps: string, planted: PlantedVaeBugs = {}): string {
  const sigma = planted.headAsSigma ? logVar : g.op("Exp", [g.op("Mul", [logVar, g.scalar(0.5)])]);
  const noise = g.op("Mul", [sigma, eps]);
  return g.op("Add", [mu, planted.noiseStopped ? g.stopGradient(noise) : noise]);
}

/** The graph's inputs besides the parameters (the same names for every batch size). */
export const VAE_GRAPH_INPUTS = Object.freeze({ images: "images", eps: "eps", klWeight: "klWeight" });

/** The options of a VAE-family training graph (the VAE's, the AAE's), whose planted bugs are `P`. */
export interface VaeFamilyGraphOptions<P> {
  /** Rows per batch (the graph's shapes are static). */
  batch: number;
  /** Add the gradient outputs (a loss-only graph serves checks). */
  gradients: boolean;
  planted?: P;
}

export type VaeTrainingGraphOptions = VaeFamilyGraphOptions<PlantedVaeGraphBugs>;

/** A VAE-family training graph; `Inputs`: the names of its inputs besides the batch, ε and the parameters. */
export interface VaeFamilyGraph<Inputs> {
  bytes: Uint8Array;
  nodes: number;
  /** Every trainable parameter the graph reads (ParamStore names = input names). */
  params: string[];
  names: Inputs & {
    /** The batch, uint8 [B, S, S, C] (0..255, as the task's planned batch holds it). */
    images: string;
    /** ε ~ N(0, I) for z = μ + σ ⊙ ε, float32 [B, d]: what the model's terms draw for the step's seed. */
    eps: string;
    loss: string;
    /** Output names of the logged scalars, as the task logs them. */
    logs: Record<string, string>;
    /** d loss / d parameter, by parameter name. */
    grads: Record<string, string>;
  };
}

/** Logs bpd (the bound at KL weight 1) and kl. */
export type VaeTrainingGraph = VaeFamilyGraph<{
  /** The KL weight of the warm-up (a scalar, scheduled by the task). */
  klWeight: string;
}>;

/** The batch input (uint8 [B, S, S, C]) as the VAE reads it: the levels 0..255 as floats and x in [0, 1], NCHW. */
export function imageNodes(g: GraphBuilder, images: string): { levels: string; x: string } {
  const nhwc = g.op("Cast", [images], { to: { i: DataType.FLOAT } }); // [B, S, S, C], the levels 0..255
  const levels = g.op("Transpose", [nhwc], { perm: { ints: [0, 3, 1, 2] } }); // [B, C, S, S]
  return { levels, x: g.op("Div", [levels, g.scalar(255)]) }; // x: [B, C, S, S] in [0, 1]
}

/**
 * The step's outputs: with `gradients`, d loss / d each parameter as "grad.<name>" (through ./autodiff.ts); then the
 * loss as "loss" and each logged scalar as "log.<name>". → the log and gradient output names
 */
export function stepOutputs(
  g: GraphBuilder,
  loss: string,
  params: string[],
  logs: Record<string, string>,
  o: { gradients: boolean; planted?: PlantedGradientBugs },
): { logs: Record<string, string>; grads: Record<string, string> } {
  const grads: Record<string, string> = {};
  if (o.gradients) {
    const dp = addGradients(g, loss, params, { planted: o.planted });
    for (const q of params) {
      grads[q] = `grad.${q}`;
      g.output(dp.get(q)!, grads[q], DataType.FLOAT, g.shapeOf(q)!);
    }
  }
  g.output(loss, "loss", DataType.FLOAT, []);
  const logNames: Record<string, string> = {};
  for (const [name, v] of Object.entries(logs)) g.output(v, (logNames[name] = `log.${name}`), DataType.FLOAT, []);
  return { logs: logNames, grads };
}

export function exportVaeTrainingGraph(c: VAEConfig, o: VaeTrainingGraphOptions): VaeTrainingGraph {
  const { imageSize: s, channels: ch, latentDim: d } = c;
  const b = o.batch;
  const planted = o.planted ?? {};
  const dims = pixelDims(c);
  const g = new GraphBuilder("tessera-vae-train");
  const n = new ConvNodes(g, { kind: "inputs" }, o.planted);

  const images = g.input(VAE_GRAPH_INPUTS.images, DataType.UINT8, [b, s, s, ch]);
  const eps = g.input(VAE_GRAPH_INPUTS.eps, DataType.FLOAT, [b, d]);
  const klWeight = g.input(VAE_GRAPH_INPUTS.klWeight, DataType.FLOAT, []);
  const { levels, x } = imageNodes(g, images);

  // VAE.terms: q(z|x), one z = μ + σ ⊙ ε, p(x|z), the closed-form KL.
  const { mu, logVar } = vaeEncoderNodes(n, c, x);
  const z = reparameterizeNodes(g, mu, logVar, eps, planted);
  const p = vaeDecoderNodes(n, c, z, planted);
  const nll = pixelNllNodes(g, c, levels, p.mean, p.spread, planted); // [B]
  const kl = gaussianKlNodes(g, mu, logVar); // [B]

  const mean = (v: string) => g.op("ReduceMean", [v], { keepdims: { i: 0 } });
  const weighted = planted.klWeightDropped ? kl : g.op("Mul", [kl, klWeight]);
  const negElbo = planted.klDropped ? nll : g.op("Add", [nll, weighted]); // [B]
  // The task's loss: nats per pixel value (Adam sees numbers near 1); bpd is the bound itself (KL weight 1).
  const loss = g.op("Div", [mean(negElbo), g.scalar(dims)]);
  const bpd = g.op("Div", [mean(g.op("Add", [nll, kl])), g.scalar(dims * Math.LN2)]);
  const klMean = mean(kl);

  const params = n.params();
  const out = stepOutputs(g, loss, params, { bpd, kl: klMean }, o);
  return { bytes: g.toBytes(), nodes: g.nodeCount(), params, names: { images, eps, klWeight, loss: "loss", ...out } };
}
