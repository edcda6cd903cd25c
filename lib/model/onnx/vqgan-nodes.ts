// The VQ-GAN's adversarial parts (Esser et al. 2021) as graph nodes, mirroring ../discriminator.ts (the patch
// discriminator) and ../gan-loss.ts (the non-saturating losses, feature matching and the adaptive weight λ of eq. 7).
// Activations are NCHW, as ./conv-nodes.ts keeps them; D's parameters are read by their ParamStore names (disc.*).
import { DISCRIMINATOR_PREFIX, type DiscriminatorConfig } from "../discriminator";
import type { ConvNodes } from "./conv-nodes";
import type { GraphBuilder } from "./graph";

/** LeakyRelu's slope in discriminate. */
const SLOPE = 0.2;
/** adaptiveWeight's δ (its default) and upper clip, as taming-transformers' calculate_adaptive_weight. */
const DELTA = 1e-4;
const MAX_WEIGHT = 1e4;

export interface JudgementNodes {
  /** [N, 1, S/2^(n−1), S/2^(n−1)]: one logit per patch. */
  logits: string;
  /** Each stage's activations [N, width, S/2^i, S/2^i], for feature matching. */
  features: string[];
}

/**
 * conv of ../layers.ts as createConv makes D's (3×3, tfjs 'same' zero padding), with the weights read through sg[·]
 * when `frozen`. x [N, ci, H, W] → [N, co, H, W]
 */
function discConv(n: ConvNodes, x: string, name: string, ci: number, co: number, frozen: boolean): string {
  const g = n.g;
  const read = (v: string) => (frozen ? g.stopGradient(v) : v);
  const w = g.op("Transpose", [read(n.w(`${name}.w`, [3, 3, ci, co]))], { perm: { ints: [3, 2, 0, 1] } }); // [co, ci, 3, 3]
  return g.op("Conv", [x, w, read(n.w(`${name}.b`, [co]))], { pads: { ints: [1, 1, 1, 1] } });
}

/**
 * discriminate of ../discriminator.ts on images [N, C, S, S] in [0, 1]: per stage space-to-depth (after the first),
 * a 3×3 conv and LeakyRelu 0.2; a 3×3 conv to one logit per patch. `frozen` reads every weight through sg[·] (the
 * generator's view of D: a loss on the result trains only what made the images).
 */
export function discriminatorNodes(n: ConvNodes, c: DiscriminatorConfig, images: string, frozen: boolean): JudgementNodes {
  const g = n.g;
  let h = g.op("Sub", [g.op("Mul", [images, g.scalar(2)]), g.scalar(1)]); // [N, C, S, S] in [−1, 1]
  let inCh = c.channels;
  const features: string[] = [];
  c.widths.forEach((width, i) => {
    const input = i === 0 ? h : n.spaceToDepth(h); // [N, 4·inCh, S/2^i, S/2^i] after the first stage
    const ci = i === 0 ? inCh : 4 * inCh;
    h = g.op("LeakyRelu", [discConv(n, input, `${DISCRIMINATOR_PREFIX}${i}`, ci, width, frozen)], { alpha: { f: SLOPE } }); // [N, width, S/2^i, S/2^i]
    features.push(h);
    inCh = width;
  });
  return { logits: discConv(n, h, `${DISCRIMINATOR_PREFIX}out`, inCh, 1, frozen), features };
}

const mean = (g: GraphBuilder, v: string) => g.op("ReduceMean", [v], { keepdims: { i: 0 } });
const softplus = (g: GraphBuilder, v: string) => g.op("Softplus", [v]);

/** discriminatorLoss: mean softplus(−D(real)) + mean softplus(D(fake)). */
export function discriminatorLossNodes(g: GraphBuilder, realLogits: string, fakeLogits: string): string {
  return g.op("Add", [mean(g, softplus(g, g.op("Neg", [realLogits]))), mean(g, softplus(g, fakeLogits))]);
}

/** generatorLoss, the non-saturating −log σ(D(x̂)) = mean softplus(−D(x̂)). */
export function generatorLossNodes(g: GraphBuilder, fakeLogits: string): string {
  return mean(g, softplus(g, g.op("Neg", [fakeLogits])));
}

/** featureMatchingLoss: the mean over layers of mean |D_l(x̂) − D_l(x)| (the real side as given, sg'd by the caller). */
export function featureMatchingNodes(g: GraphBuilder, fake: string[], real: string[]): string {
  if (fake.length !== real.length || !fake.length)
    throw new Error(`feature matching needs matching layers, got ${fake.length} and ${real.length}`);
  const perLayer = fake.map((f, i) => mean(g, g.op("Abs", [g.op("Sub", [f, real[i]])])));
  return g.op("Div", [g.op("Sum", perLayer), g.scalar(fake.length)]);
}

/**
 * adaptiveWeight of ../gan-loss.ts from the two gradients themselves (any shape): λ = ‖∇ L_rec‖ / (‖∇ L_GAN‖ + δ),
 * clipped to [0, 1e4], and 0 where either norm is not finite (NaN and ∞ both fail `< ∞`). `delta` is adaptiveWeight's
 * δ; only a planted bug passes another.
 */
export function adaptiveWeightNodes(g: GraphBuilder, recGrad: string, ganGrad: string, delta = DELTA): string {
  const norm = (v: string) => g.op("Sqrt", [g.op("ReduceSum", [g.op("Mul", [v, v])], { keepdims: { i: 0 } })]); // [] (every axis)
  const [a, b] = [norm(recGrad), norm(ganGrad)];
  const ratio = g.op("Clip", [g.op("Div", [a, g.op("Add", [b, g.scalar(delta)])]), g.scalar(0), g.scalar(MAX_WEIGHT)]);
  const finite = (v: string) => g.op("Less", [v, g.scalar(Infinity)]);
  return g.op("Where", [finite(a), g.op("Where", [finite(b), ratio, g.scalar(0)]), g.scalar(0)]);
}
