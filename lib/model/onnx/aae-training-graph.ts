// The lab's adversarial autoencoder's training step (../aae.ts: AAE.terms, combined as training/lab/aae-task.ts's
// loss) as one ONNX graph with, through ./autodiff.ts, its gradient with respect to every parameter, so ONNX
// Runtime's native kernels run the whole step. The encoder, decoder and Gaussian likelihood are the VAE's nodes
// (./vae-training-graph.ts), as are the batch's decoding, the step's outputs and the options' and graph's types. One
// scalar trains both players, as in the tfjs model: the encoder's adversarial term reads D's weights through sg[·]
// and D's own term reads the codes through sg[·] (GraphBuilder.stopGradient), so each player's gradient stays on its
// own parameters. The noise is not drawn in the graph: the caller feeds ε for z = μ + σ ⊙ ε and the prior samples D
// is shown, the draws AAE.terms makes for the step's seed.
import { LATENT_DISC_PREFIX, validateAAEConfig, type AAEConfig } from "../aae";
import { pixelDims, type VAEConfig } from "../vae-config";
import type { PlantedGradientBugs } from "./autodiff";
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
}

export type PlantedAaeGraphBugs = PlantedGradientBugs & PlantedConvBugs & PlantedAaeBugs;

/** LeakyRelu's slope in AAE.discriminate. */
const DISC_SLOPE = 0.2;

/** The graph's inputs besides the parameters (the same names for every batch size). */
export const AAE_GRAPH_INPUTS = Object.freeze({ images: "images", eps: "eps", prior: "prior", generatorWeight: "generatorWeight" });

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

export type AaeTrainingGraphOptions = VaeFamilyGraphOptions<PlantedAaeGraphBugs>;

/** Logs recBpd, gen, disc and dAcc. */
export type AaeTrainingGraph = VaeFamilyGraph<{
  /** B samples of the prior N(0, I) for D, float32 [B, d]. */
  prior: string;
  /** The generator term's weight in the loss (the task's λ·ramp / D), a scalar. */
  generatorWeight: string;
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
  const rec = g.op("Div", [mean(nll), g.scalar(pixelDims(vae))]);
  const weighted = planted.generatorWeightDropped ? generator : g.op("Mul", [generator, generatorWeight]);
  const loss = g.op("Sum", [rec, weighted, discriminator]);
  const recBpd = g.op("Div", [rec, g.scalar(Math.LN2)]);

  const params = n.params();
  const out = stepOutputs(g, loss, params, { recBpd, gen: generator, disc: discriminator, dAcc: discAccuracy }, o);
  return { bytes: g.toBytes(), nodes: g.nodeCount(), params, names: { images, eps, prior, generatorWeight, loss: "loss", ...out } };
}
