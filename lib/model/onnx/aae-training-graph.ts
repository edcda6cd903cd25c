// The lab's adversarial autoencoder's training step (../aae.ts: AAE.terms, combined as training/lab/aae-task.ts's
// loss) as one ONNX graph with, through ./autodiff.ts, its gradient with respect to every parameter, so ONNX
// Runtime's native kernels run the whole step. The encoder, decoder and likelihood (either family) are the VAE's nodes
// (./vae-training-graph.ts), as are the batch's decoding, the step's outputs and the options' and graph's types. One
// scalar trains both players, as in the tfjs model: the encoder's adversarial term reads D's weights through sg[·]
// and D's own term reads the codes through sg[·] (GraphBuilder.stopGradient), so each player's gradient stays on its
// own parameters. The noise is not drawn in the graph: the caller feeds ε for z = μ + σ ⊙ ε and the prior samples D
// is shown, the draws AAE.terms makes for the step's seed.
//
// The generator term's weight is fed (a fixed λ, ramped by the task), or with `adaptive` it is the adaptive λ of
// Esser et al. 2021 (eq. 7) times a fed factor, λ measured in the graph exactly as AAE.adaptiveWeight measures it:
// the norms of the gradients of L_rec (the reconstruction term per pixel value) and of L_G (the generator loss) with
// respect to the encoder's last layer's weights alone (ENCODER_LAST_LAYER), two more backward passes of the autodiff
// over the same forward nodes; nothing upstream of that layer depends on it, so "the rest of the net held fixed"
// needs no stop-gradient. As in the VQ-GAN's graph (./vqgan-training-graph.ts), λ is computed every step but taken
// only where the caller says the tfjs task re-measures it (adv.remeasure), the λ held since (adv.lambdaHeld)
// otherwise; the graph hands back the λ it used (logged and gathered as advLambda) for the caller to hold. The
// weight enters the loss through sg[·], as the tfjs weight is a plain number. L_rec's backward through the decoder
// is the same nodes on the same inputs as the step's own, and ORT's common-subexpression elimination runs it once
// (the optimised graph of a tiny config has the fixed-λ graph's convolutions, no more): what λ adds each step is
// D's backward to z and the products with the layer's input.
import { ENCODER_LAST_LAYER, LATENT_DISC_PREFIX, validateAAEConfig, type AAEConfig } from "../aae";
import { pixelDims, type VAEConfig } from "../vae-config";
import { addGradients, type PlantedGradientBugs } from "./autodiff";
import { ConvNodes, type PlantedConvBugs } from "./conv-nodes";
import { DataType, GraphBuilder } from "./graph";
import {
  imageNodes,
  pixelNllNodes,
  reparameterizeNodes,
  stepOutputs,
  vaeDecoderNodes,
  vaeEncoderNodes,
  type VaeFamilyGraph,
  type VaeFamilyGraphOptions,
} from "./vae-training-graph";
import { adaptiveWeightNodes } from "./vqgan-nodes";

/** Deliberate deviations from the tfjs loss, for tests that prove the equality checks can tell (never set them in code). */
export interface PlantedAaeBugs {
  /** The encoder's adversarial term reads D's live weights: it then also trains D to call the codes real. */
  generatorUnfrozen?: boolean;
  /** D's loss on the codes reads z itself, not sg[z]: it then pushes the encoder away from the prior. */
  fakeNotDetached?: boolean;
  /** D without its quadratic term (the plain MLP). */
  curvatureDropped?: boolean;
  /** The adversarial weight ignored: the generator term enters with weight 1. */
  generatorWeightDropped?: boolean;
  /** The adaptive λ measured on this parameter instead of the encoder's last layer. */
  lambdaLayer?: string;
  /** The adaptive λ re-measured every step: the held λ never used. */
  heldLambdaIgnored?: boolean;
  /** The adaptive λ without adaptiveWeight's δ: ‖∇ L_rec‖ / ‖∇ L_G‖. */
  deltaDropped?: boolean;
  /** The adaptive λ upside down: ‖∇ L_G‖ / (‖∇ L_rec‖ + δ). */
  lambdaInverted?: boolean;
}

export type PlantedAaeGraphBugs = PlantedGradientBugs & PlantedConvBugs & PlantedAaeBugs;

/** LeakyRelu's slope in AAE.discriminate. */
const DISC_SLOPE = 0.2;

/**
 * The graph's inputs besides the parameters (the same names for every batch size); remeasure and lambdaHeld only in
 * the adaptive graph.
 */
export const AAE_GRAPH_INPUTS = Object.freeze({
  images: "images",
  eps: "eps",
  prior: "prior",
  generatorWeight: "generatorWeight",
  remeasure: "adv.remeasure",
  lambdaHeld: "adv.lambdaHeld",
});

/** The adaptive graph's gathered output (and log) holding the λ the step used. */
export const AAE_LAMBDA = "advLambda";

/**
 * AAE.discriminate: D(z) = MLP(z) − mean_j(c_j·z_j²), one logit per row. `frozen` reads every weight of D through
 * sg[·] (z itself is not stopped). z [B, d] → [B]
 */
function discriminatorNodes(n: ConvNodes, c: AAEConfig, z: string, frozen: boolean, planted: PlantedAaeBugs): string {
  const g = n.g;
  const [d, hidden] = [c.latentDim, c.discHidden];
  const w = (name: string, dims: number[]) => (frozen ? g.stopGradient(n.w(name, dims)) : n.w(name, dims));
  const dense = (x: string, name: string, inDim: number, outDim: number) =>
    g.op("Add", [g.op("MatMul", [x, w(`${LATENT_DISC_PREFIX}${name}.w`, [inDim, outDim])]), w(`${LATENT_DISC_PREFIX}${name}.b`, [outDim])]);
  const leaky = (x: string) => g.op("LeakyRelu", [x], { alpha: { f: DISC_SLOPE } });
  const h1 = leaky(dense(z, "h1", d, hidden)); // [B, H]
  const h2 = leaky(dense(h1, "h2", hidden, hidden)); // [B, H]
  const mlp = g.op("Reshape", [dense(h2, "out", hidden, 1), g.ints([-1])]); // [B, 1] → [B]
  const c0 = w(`${LATENT_DISC_PREFIX}curvature`, [d]);
  const curvature = planted.curvatureDropped ? g.op("Mul", [c0, g.scalar(0)]) : c0; // planted: still read, as zeros
  const curved = g.op("Mul", [curvature, g.op("Mul", [z, z])]); // [B, d]
  return g.op("Sub", [mlp, g.op("ReduceMean", [curved], { axes: { ints: [1] }, keepdims: { i: 0 } })]);
}

export interface AaeTrainingGraphOptions extends VaeFamilyGraphOptions<PlantedAaeGraphBugs> {
  /** The generator term weighted by the adaptive λ (Esser et al. 2021, eq. 7) times the fed factor. */
  adaptive?: boolean;
}

/** Logs recBpd, gen, disc, dAcc and advWeight (the generator term's weight in nats per image); adaptive: advLambda. */
export type AaeTrainingGraph = VaeFamilyGraph<{
  /** B samples of the prior N(0, I) for D, float32 [B, d]. */
  prior: string;
  /**
   * A scalar: the generator term's weight per pixel value (the task's fixed λ·ramp / D); in the adaptive graph the
   * factor the graph's λ is multiplied by (the task's factor·ramp).
   */
  generatorWeight: string;
  /** Adaptive graph: 1 where λ is measured afresh this step, 0 where the held λ is used (a scalar). */
  remeasure?: string;
  /** Adaptive graph: the λ held since the last measurement (a scalar). */
  lambdaHeld?: string;
  /** Adaptive graph: { advLambda: the output holding the λ the step used }, for the caller to hold. */
  gather?: Record<string, string>;
}>;

export function exportAaeTrainingGraph(c: AAEConfig, o: AaeTrainingGraphOptions): AaeTrainingGraph {
  validateAAEConfig(c); // the learned Gaussian only, as AAE.terms scores reconstructions
  const vae: VAEConfig = { ...c, kind: "vae" };
  const { imageSize: s, channels: ch, latentDim: d } = c;
  const b = o.batch;
  const planted = o.planted ?? {};
  const g = new GraphBuilder("tessera-aae-train");
  const n = new ConvNodes(g, { kind: "inputs" }, o.planted);

  const images = g.input(AAE_GRAPH_INPUTS.images, DataType.UINT8, [b, s, s, ch]);
  const eps = g.input(AAE_GRAPH_INPUTS.eps, DataType.FLOAT, [b, d]);
  const prior = g.input(AAE_GRAPH_INPUTS.prior, DataType.FLOAT, [b, d]);
  const generatorWeight = g.input(AAE_GRAPH_INPUTS.generatorWeight, DataType.FLOAT, []);
  const adaptive = o.adaptive
    ? {
        remeasure: g.input(AAE_GRAPH_INPUTS.remeasure, DataType.FLOAT, []),
        lambdaHeld: g.input(AAE_GRAPH_INPUTS.lambdaHeld, DataType.FLOAT, []),
      }
    : undefined;
  const { levels, x } = imageNodes(g, images);

  // AAE.terms: the VAE's q(z|x), one z, p(x|z); then D on prior samples (real) and on the codes (fake).
  const { mu, logVar } = vaeEncoderNodes(n, vae, x);
  const z = reparameterizeNodes(g, mu, logVar, eps);
  const p = vaeDecoderNodes(n, vae, z);
  const nll = pixelNllNodes(g, vae, levels, p.mean, p.spread); // [B]
  const real = discriminatorNodes(n, c, prior, false, planted); // [B]
  const fake = discriminatorNodes(n, c, planted.fakeNotDetached ? z : g.stopGradient(z), false, planted); // [B]
  const fooled = discriminatorNodes(n, c, z, !planted.generatorUnfrozen, planted); // [B]

  // ../gan-loss.ts: log σ(l) = −softplus(−l), so every term is a softplus of logits.
  const mean = (v: string) => g.op("ReduceMean", [v], { keepdims: { i: 0 } });
  const softplus = (v: string) => g.op("Softplus", [v]);
  const generator = mean(softplus(g.op("Neg", [fooled]))); // −log σ(D(z)), D frozen
  const discriminator = g.op("Add", [mean(softplus(g.op("Neg", [real]))), mean(softplus(fake))]);
  // D's accuracy: prior samples called real (logit > 0), codes called fake (logit ≤ 0), over the 2B judgements.
  const calledReal = (v: string) => g.op("Cast", [g.op("Greater", [v, g.scalar(0)])], { to: { i: DataType.FLOAT } }); // [B]
  const right = g.op("Concat", [calledReal(real), g.op("Sub", [g.scalar(1), calledReal(fake)])], { axis: { i: 0 } }); // [2B]
  const discAccuracy = mean(right);

  // The task's loss: the reconstruction term per pixel value + the weighted generator term + D's own loss.
  const dims = pixelDims(vae);
  const rec = g.op("Div", [mean(nll), g.scalar(dims)]);
  let weight = generatorWeight;
  let lambda: string | undefined;
  if (adaptive) {
    // AAE.adaptiveWeight: ‖∇_W L_rec‖ / (‖∇_W L_G‖ + δ), each gradient w.r.t. the encoder's last layer's weights alone.
    const layer = planted.lambdaLayer ?? ENCODER_LAST_LAYER;
    const [recGrad, genGrad] = [rec, generator].map((l) => addGradients(g, l, [layer], { planted: o.planted }).get(layer)!);
    const measured = planted.lambdaInverted
      ? adaptiveWeightNodes(g, genGrad, recGrad)
      : adaptiveWeightNodes(g, recGrad, genGrad, planted.deltaDropped ? 0 : undefined);
    const fresh = g.op("Greater", [adaptive.remeasure, g.scalar(0.5)]);
    lambda = planted.heldLambdaIgnored ? measured : g.op("Where", [fresh, measured, adaptive.lambdaHeld]);
    // A number to the loss, as in tfjs: no gradient through the measurement.
    weight = g.stopGradient(g.op("Mul", [lambda, generatorWeight]));
  }
  const weighted = planted.generatorWeightDropped ? generator : g.op("Mul", [generator, weight]);
  const loss = g.op("Sum", [rec, weighted, discriminator]);
  const recBpd = g.op("Div", [rec, g.scalar(Math.LN2)]);
  const advWeight = g.op("Mul", [weight, g.scalar(dims)]); // per pixel value → nats per image, the task's advWeight units

  const params = n.params();
  const logs = { recBpd, gen: generator, disc: discriminator, dAcc: discAccuracy, advWeight, ...(lambda ? { [AAE_LAMBDA]: lambda } : {}) };
  const out = stepOutputs(g, loss, params, logs, o);
  return {
    bytes: g.toBytes(),
    nodes: g.nodeCount(),
    params,
    names: {
      images,
      eps,
      prior,
      generatorWeight,
      ...adaptive,
      loss: "loss",
      ...out,
      // The logged λ is the gathered one: an output read twice (GraphBuilder.output renames a value only once).
      ...(lambda ? { gather: { [AAE_LAMBDA]: out.logs[AAE_LAMBDA] } } : {}),
    },
  };
}
