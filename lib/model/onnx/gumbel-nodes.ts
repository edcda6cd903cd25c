// The dVAE bottleneck (Ramesh et al. 2021; Jang et al. 2017, Maddison et al. 2017) as graph nodes, mirroring
// ../gumbel-quantizer.ts's quantize in training: the Gumbel-softmax sample y = softmax((logits + g) / τ), its
// straight-through one-hot (hardGumbel), the KL to the uniform prior and the batch-level usage term. The noise is
// not drawn in the graph: the caller feeds the uniform draw u that tf.randomUniform gives gumbelSoftmax for the
// same seed, so the graph decodes the very sample the tape does; g = −log(−log(u + ε) + ε) is taken here, as there.
import { DataType, type GraphBuilder } from "./graph";

/** Keeps log() away from 0, as TINY in ../gumbel-quantizer.ts. */
const TINY = 1e-10;

/** Deliberate deviations from the tfjs quantizer, for tests that prove the equality checks can tell (never set them in code). */
export interface PlantedGumbelBugs {
  /** The decoder reads the one-hot itself: no reconstruction gradient reaches the logits. */
  noStraightThrough?: boolean;
  /** The straight-through's stop-gradient on the other term, onehot + sg(y) − y: the same forward, the gradient negated. */
  straightThroughFlipped?: boolean;
  /** The per-sample KL enters the loss with weight 1 (its warm-up weight ignored). */
  klWeightDropped?: boolean;
  /** The per-sample KL subtracted instead of added. */
  klSignFlipped?: boolean;
  /** The batch-level usage term left out of the loss (still logged). */
  usageDropped?: boolean;
  /** τ ignored: softmax(logits + g). */
  temperatureDropped?: boolean;
  /** The noise's scale ignored: full Gumbel noise whatever the step feeds. */
  noiseScaleDropped?: boolean;
}

export interface GumbelNodes {
  /** What the decoder reads per position, [N, K]: the straight-through one-hot (hard) or the relaxed sample. */
  y: string;
  /** Mean over rows of KL(softmax(logits) ‖ uniform), a scalar. */
  kl: string;
  /** KL(q̄ ‖ uniform), q̄ the mean of softmax(logits) over the rows, a scalar. */
  batchKl: string;
  /** klWeight · kl + usageWeight · batchKl, what the quantizer adds to the reconstruction loss. */
  loss: string;
}

/**
 * logits [N, K]; noise [N, K] uniform in [0, 1); noiseScale, temperature and klWeight scalar inputs (per step). `hard` and
 * `usageWeight` are the config's hardGumbel and usageWeight.
 */
export function gumbelSoftmaxNodes(
  g: GraphBuilder,
  logits: string,
  noise: string,
  noiseScale: string,
  temperature: string,
  klWeight: string,
  k: number,
  hard: boolean,
  usageWeight: number,
  planted: PlantedGumbelBugs = {},
): GumbelNodes {
  const log = (v: string) => g.op("Log", [g.op("Add", [v, g.scalar(TINY)])]);
  const standard = g.op("Neg", [log(g.op("Neg", [log(noise)]))]); // Gumbel(0, 1), [N, K]
  const gumbel = planted.noiseScaleDropped ? standard : g.op("Mul", [standard, noiseScale]); // noiseScale · Gumbel(0, 1)
  const perturbed = g.op("Add", [logits, gumbel]);
  const soft = g.op("Softmax", [planted.temperatureDropped ? perturbed : g.op("Div", [perturbed, temperature])], { axis: { i: 1 } }); // [N, K]
  let y = soft;
  if (hard) {
    // one-hot of argmax(y) (ties: the lowest index, as tf.argMax), [N, K]; comparisons carry no gradient.
    const best = g.op("ArgMax", [soft], { axis: { i: 1 }, keepdims: { i: 1 } }); // [N, 1] int64
    const range = g.ints(Array.from({ length: k }, (_, i) => i)); // [K]
    const onehot = g.op("Cast", [g.op("Equal", [best, range])], { to: { i: DataType.FLOAT } });
    // Straight-through (Bengio et al. 2013): the one-hot forward, the soft sample's gradient backward.
    if (planted.noStraightThrough) y = onehot;
    else if (planted.straightThroughFlipped) y = g.op("Sub", [g.op("Add", [onehot, g.stopGradient(soft)]), soft]);
    else y = g.op("Add", [soft, g.stopGradient(g.op("Sub", [onehot, soft]))]);
  }

  const logK = g.scalar(Math.log(k));
  // KL(q ‖ U) = Σ q log q + log K per row, q = softmax(logits); then the mean over rows.
  const logQ = g.op("LogSoftmax", [logits], { axis: { i: 1 } }); // [N, K]
  const negEntropy = g.op("ReduceSum", [g.op("Mul", [g.op("Exp", [logQ]), logQ]), g.ints([1])], { keepdims: { i: 0 } }); // [N]
  const kl = g.op("ReduceMean", [g.op("Add", [negEntropy, logK])], { keepdims: { i: 0 } });
  // The usage term: the same KL for q̄, the mean q over every position of the batch.
  const qBar = g.op("ReduceMean", [g.op("Softmax", [logits], { axis: { i: 1 } })], { axes: { ints: [0] }, keepdims: { i: 0 } }); // [K]
  const batchKl = g.op("Add", [g.op("ReduceSum", [g.op("Mul", [qBar, log(qBar)])], { keepdims: { i: 0 } }), logK]);

  const klTerm = planted.klWeightDropped ? kl : g.op("Mul", [kl, klWeight]);
  let loss = planted.klSignFlipped ? g.op("Neg", [klTerm]) : klTerm;
  if (!planted.usageDropped) loss = g.op("Add", [loss, g.op("Mul", [batchKl, g.scalar(usageWeight)])]);
  return { y, kl, batchKl, loss };
}
