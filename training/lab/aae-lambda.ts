// The AAE's adaptive adversarial weight as training state (the way the VQ-GAN keeps its λ, training/vq/gan.ts): λ of
// Esser et al. 2021 (eq. 7), measured on the encoder's last layer (AAE.adaptiveWeight, lib/model/aae.ts) on some
// steps and held between them. The tfjs loss measures it itself; the native graph
// (lib/model/onnx/aae-training-graph.ts) is told on which steps to, is fed the λ held, and hands back the λ it used
// for the task to hold (`hold`), so both engines share one schedule and one definition. Each tfjs replica holds the
// λ of its own shard (as the VQ-GAN's); the native engine runs the whole batch as one shard.

/** The adaptive weight's settings (the task's `adaptive` option). */
export interface AdaptiveAdvWeight {
  /**
   * Multiplies λ (taming-transformers' disc_weight): at 1 the generator term moves the encoder's last layer as hard
   * as the reconstruction term does, at 0.5 half as hard.
   */
  factor: number;
  /** λ is re-measured every this many steps (and while none is held), as GanOptions.lambdaEvery. */
  every: number;
}

export function validateAdaptiveAdvWeight(a: AdaptiveAdvWeight): AdaptiveAdvWeight {
  if (!(Number.isFinite(a.factor) && a.factor > 0)) throw new Error(`invalid AAE adaptive weight: factor must be > 0, got ${a.factor}`);
  if (!(Number.isInteger(a.every) && a.every >= 1))
    throw new Error(`invalid AAE adaptive weight: every must be an integer ≥ 1, got ${a.every}`);
  return a;
}

/** How a step treats λ: whether it is measured afresh, and the λ held so far. */
export interface AaeLambdaPlan {
  remeasure: boolean;
  held: number;
}

export class HeldLambda {
  private lambda = 0;

  constructor(readonly every: number) {}

  /** λ at `step`: measured while none is held (0, as at the start or after a resume) and every `every` steps. */
  plan(step: number): AaeLambdaPlan {
    return { remeasure: this.lambda === 0 || step % this.every === 0, held: this.lambda };
  }

  /** The λ a step used (measured, or held), held for the steps until the next measurement. */
  hold(lambda: number): void {
    this.lambda = lambda;
  }

  /** The λ held now. */
  get held(): number {
    return this.lambda;
  }
}
