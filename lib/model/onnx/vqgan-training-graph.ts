// The VQ-GAN's training step (training/vq/gan.ts: VQModel.forward's loss + GanObjective.terms) as one ONNX graph: the
// VQ-VAE's step (./vq-training-graph.ts) with the patch discriminator, feature matching and the adaptive-weighted
// non-saturating adversarial loss added before the backward pass (./vqgan-nodes.ts). As in the tfjs objective, one
// scalar trains both players: the generator's terms read D's weights through sg[·], D's own term reads the
// reconstructions through sg[·], and the real side of feature matching is sg'd.
//
// The adaptive weight λ (Esser et al. 2021, eq. 7) is measured in the graph exactly as GanObjective.measureLambda
// measures it: the norms of the gradients of L_rec = MSE + featureWeight·perceptual and of L_G = generator loss with
// respect to the decoder's last conv weights alone (dec.out.w), everything else held fixed. Those are two more
// backward passes of the autodiff (./autodiff.ts) over the same forward nodes, each w.r.t. dec.out.w only; nothing
// upstream of the last layer depends on it, so the "rest of the net held fixed" needs no stop-gradient. λ is
// re-measured only on the steps the tfjs objective re-measures it (start, then every lambdaEvery steps, or while
// it is 0): the caller feeds whether to (gan.remeasure), the λ held since (gan.lambdaHeld) and whether the
// generator term is on yet (gan.on); the graph hands back the λ it used (gathered as ganLambda) for the caller to
// hold. The weight λ·discWeight enters the loss through sg[·], as the tfjs weight is a plain number.
import type { DiscriminatorConfig } from "../discriminator";
import type { VQConfig } from "../vq-config";
import { addGradients } from "./autodiff";
import { DataType, GraphBuilder } from "./graph";
import { adaptiveWeightNodes, discriminatorLossNodes, discriminatorNodes, featureMatchingNodes, generatorLossNodes } from "./vqgan-nodes";
import { vqGraphOutputs, vqStepNodes, type VqTrainingGraph, type VqTrainingGraphOptions } from "./vq-training-graph";

/** Deliberate deviations from the tfjs loss, for tests that prove the equality checks can tell (never set them in code). */
export interface PlantedVqganBugs {
  /** The generator's pass reads D's live weights: the generator and perceptual terms then train D too. */
  generatorUnfrozen?: boolean;
  /** D's own pass reads the reconstructions, not sg[·] of them: D's loss then trains the generator. */
  fakeNotDetached?: boolean;
  /** Feature matching's real side not stopped: the perceptual term then trains D. */
  realFeaturesNotDetached?: boolean;
  /** λ re-measured every step: the held λ never used. */
  heldLambdaIgnored?: boolean;
  /** λ's reconstruction side is the MSE alone (taming-transformers' nll_loss), without the perceptual term. */
  lambdaWithoutPerceptual?: boolean;
}

/** The GAN's settings the graph bakes in (training/vq/gan.ts GanOptions). */
export interface VqganWeights {
  discWeight: number;
  featureWeight: number;
}

/** The graph's per-step inputs of the adversarial terms (scalars). */
export const VQGAN_GRAPH_INPUTS = Object.freeze({ on: "gan.on", remeasure: "gan.remeasure", lambdaHeld: "gan.lambdaHeld" });

/** The gathered output holding the λ the step used. */
export const VQGAN_LAMBDA = "ganLambda";

export interface VqganTrainingGraphOptions extends Omit<VqTrainingGraphOptions, "planted"> {
  gan: VqganWeights;
  discriminator: DiscriminatorConfig;
  planted?: VqTrainingGraphOptions["planted"] & PlantedVqganBugs;
}

/** The decoder's last layer G_L, whose weight gradients λ compares (VQModel.lastLayer). */
const LAST_LAYER = "dec.out.w";

export function exportVqganTrainingGraph(c: VQConfig, o: VqganTrainingGraphOptions): VqTrainingGraph {
  if (c.kind !== "vqvae") throw new Error(`a GAN objective needs a vqvae, got ${c.kind}`);
  const planted = o.planted ?? {};
  const b = o.batch;
  const g = new GraphBuilder("tessera-vqgan-train");
  const step = vqStepNodes(g, c, o);
  const { n, x, reconstruction } = step;
  const on = g.input(VQGAN_GRAPH_INPUTS.on, DataType.FLOAT, []);
  const remeasure = g.input(VQGAN_GRAPH_INPUTS.remeasure, DataType.FLOAT, []);
  const lambdaHeld = g.input(VQGAN_GRAPH_INPUTS.lambdaHeld, DataType.FLOAT, []);
  const mean = (v: string) => g.op("ReduceMean", [v], { keepdims: { i: 0 } });

  // D's own pass: real and (detached) fake images in one batch, as GanObjective.terms.
  const fakeForD = planted.fakeNotDetached ? reconstruction : g.stopGradient(reconstruction);
  const both = discriminatorNodes(n, o.discriminator, g.op("Concat", [x, fakeForD], { axis: { i: 0 } }), false); // [2B, …]
  const half = (v: string, i: 0 | 1) => g.op("Slice", [v, g.ints([i * b]), g.ints([(i + 1) * b]), g.ints([0])]); // [B, …]
  const fakeForG = discriminatorNodes(n, o.discriminator, reconstruction, !planted.generatorUnfrozen);
  const realFeatures = both.features.map((f) => (planted.realFeaturesNotDetached ? half(f, 0) : g.stopGradient(half(f, 0))));
  const perceptual = featureMatchingNodes(g, fakeForG.features, realFeatures);
  const generator = generatorLossNodes(g, fakeForG.logits);
  const realLogits = half(both.logits, 0);
  const discriminator = discriminatorLossNodes(g, realLogits, half(both.logits, 1));
  const weightedPerceptual = g.op("Mul", [perceptual, g.scalar(o.gan.featureWeight)]);

  // measureLambda: ‖∇_{G_L} L_rec‖ / (‖∇_{G_L} L_G‖ + δ), each gradient w.r.t. the last layer's weights alone.
  const lRec = planted.lambdaWithoutPerceptual ? step.recon : g.op("Add", [step.recon, weightedPerceptual]);
  const [recGrad, ganGrad] = [lRec, generator].map((l) => addGradients(g, l, [LAST_LAYER], { planted: o.planted }).get(LAST_LAYER)!);
  const measured = adaptiveWeightNodes(g, recGrad, ganGrad);
  const lambda = planted.heldLambdaIgnored ? measured : g.op("Where", [g.op("Greater", [remeasure, g.scalar(0.5)]), measured, lambdaHeld]);
  // A number to the loss, as in tfjs: no gradient through the measurement.
  const ganWeight = g.stopGradient(g.op("Mul", [g.op("Mul", [lambda, on]), g.scalar(o.gan.discWeight)]));

  const loss = g.op("Add", [step.loss, g.op("Sum", [weightedPerceptual, g.op("Mul", [generator, ganWeight]), discriminator])]);
  const logs = { ...step.logs, perceptual, generator, discriminator, ganWeight, dReal: mean(realLogits) };
  return vqGraphOutputs(g, c, step, loss, logs, o, { [VQGAN_LAMBDA]: lambda });
}
