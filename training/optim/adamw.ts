// Adam with decoupled weight decay (Kingma & Ba 2015; Loshchilov & Hutter 2019), written out so its state can be
// saved and restored with a checkpoint and its learning rate set every step by a schedule.
import * as tf from "@tensorflow/tfjs";

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  epsilon: number;
  /** Decoupled weight decay, applied only to the parameters `decays(name)` selects (e.g. matrices, not biases). */
  weightDecay: number;
  decays?: (name: string) => boolean;
}

export const DEFAULT_ADAMW: Readonly<AdamWOptions> = Object.freeze({ beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 });

export class AdamW {
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  step = 0;

  constructor(
    private readonly params: Map<string, tf.Variable>,
    private readonly options: AdamWOptions = DEFAULT_ADAMW,
  ) {
    const zeros = (p: tf.Tensor) => {
      // tf.variable keeps its initial tensor alive until that tensor is disposed.
      const init = tf.zerosLike(p);
      const v = tf.variable(init, false);
      init.dispose();
      return v;
    };
    for (const [name, p] of params) {
      this.m.set(name, zeros(p));
      this.v.set(name, zeros(p));
    }
  }

  /** One update with learning rate `lr`; `grads` by parameter name (missing ones are skipped). */
  apply(grads: Record<string, tf.Tensor>, lr: number): void {
    this.step++;
    const { beta1, beta2, epsilon, weightDecay } = this.options;
    const c1 = 1 - beta1 ** this.step;
    const c2 = 1 - beta2 ** this.step;
    tf.tidy(() => {
      for (const [name, p] of this.params) {
        const g = grads[name];
        if (!g) continue;
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        m.assign(tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
        v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2)));
        let update = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), epsilon));
        if (weightDecay > 0 && (this.options.decays?.(name) ?? true)) update = tf.add(update, tf.mul(p, weightDecay));
        p.assign(tf.sub(p, tf.mul(update, lr)));
      }
    });
  }

  /** Moment estimates by name ("m/<param>", "v/<param>"), for a resumable checkpoint. */
  state(): Map<string, tf.Tensor> {
    const out = new Map<string, tf.Tensor>();
    for (const [name, t] of this.m) out.set(`m/${name}`, t);
    for (const [name, t] of this.v) out.set(`v/${name}`, t);
    return out;
  }

  restore(state: Map<string, tf.Tensor>, step: number): void {
    for (const [prefix, vars] of [
      ["m", this.m],
      ["v", this.v],
    ] as const) {
      for (const [name, t] of vars) {
        const saved = state.get(`${prefix}/${name}`);
        if (!saved) throw new Error(`optimizer state has no ${prefix}/${name}`);
        t.assign(saved);
      }
    }
    this.step = step;
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
  }
}

/** Global-norm gradient clipping (Pascanu et al. 2013): scales all gradients by min(1, maxNorm / ‖g‖). */
export async function clipByGlobalNorm(
  grads: Record<string, tf.Tensor>,
  maxNorm: number,
): Promise<{ grads: Record<string, tf.Tensor>; norm: number }> {
  const sq = tf.tidy(() => tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))));
  const norm = Math.sqrt((await sq.data())[0]);
  sq.dispose();
  if (norm <= maxNorm) return { grads, norm };
  const scale = maxNorm / norm;
  const clipped: Record<string, tf.Tensor> = {};
  for (const [k, g] of Object.entries(grads)) {
    clipped[k] = tf.mul(g, scale);
    g.dispose();
  }
  return { grads: clipped, norm };
}
