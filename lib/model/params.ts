// Named parameters of a model: one place that creates, lists, saves and restores every variable, so the trainer
// and the checkpoint code never need to know a model's internals.
import * as tf from "@tensorflow/tfjs";

export class ParamStore {
  private readonly vars = new Map<string, { v: tf.Variable; trainable: boolean }>();
  private nextSeed: number;

  constructor(seed: number) {
    this.nextSeed = seed >>> 0;
  }

  /** A fresh seed for an initialiser, so a model built with the same seed gets the same weights. */
  seed(): number {
    this.nextSeed = (Math.imul(this.nextSeed, 1664525) + 1013904223) >>> 0;
    return this.nextSeed;
  }

  /** Creates a variable from `init` (disposed after copying). Non-trainable ones hold state such as EMA statistics. */
  add(name: string, init: tf.Tensor, trainable = true): tf.Variable {
    if (this.vars.has(name)) throw new Error(`parameter ${name} defined twice`);
    // tfjs variable names are global to the process: let tfjs pick unique ones, so two models (an old and a newly
    // activated one, or a model and its reloaded copy) can live side by side. Our names live in this map.
    const v = tf.variable(init, trainable);
    init.dispose();
    this.vars.set(name, { v, trainable });
    return v;
  }

  get(name: string): tf.Variable {
    const p = this.vars.get(name);
    if (!p) throw new Error(`no parameter named ${name}`);
    return p.v;
  }

  names(): string[] {
    return [...this.vars.keys()];
  }

  /** Trainable variables by name (what the optimizer updates). */
  trainable(): Map<string, tf.Variable> {
    return new Map([...this.vars].filter(([, p]) => p.trainable).map(([n, p]) => [n, p.v]));
  }

  /** All variables (trainable and state) by name: what a checkpoint stores. */
  all(): Map<string, tf.Variable> {
    return new Map([...this.vars].map(([n, p]) => [n, p.v]));
  }

  countTrainable(): number {
    let n = 0;
    for (const [, p] of this.vars) if (p.trainable) n += p.v.size;
    return n;
  }

  /**
   * Overwrites every variable from `values` (shapes must match; missing or extra names are errors), except the names
   * `fresh` accepts, which keep their initial values whether `values` lacks them, has them under another shape or
   * has them at all: e.g. a VQ-GAN's discriminator when warm-starting from an exported tokenizer (which does not
   * carry it), or a new, wider decoder on a tokenizer's encoder and codebook.
   */
  load(values: Map<string, tf.Tensor>, source = "checkpoint", fresh: (name: string) => boolean = () => false): void {
    const missing = this.names().filter((n) => !values.has(n) && !fresh(n));
    const extra = [...values.keys()].filter((n) => !this.vars.has(n) && !fresh(n));
    if (missing.length || extra.length) {
      throw new Error(`${source} does not fit this model: missing [${missing.join(", ")}], unexpected [${extra.join(", ")}]`);
    }
    for (const [name, { v }] of this.vars) {
      const t = values.get(name);
      if (!t || fresh(name)) continue;
      if (t.shape.join("x") !== v.shape.join("x"))
        throw new Error(`${source}: ${name} has shape [${t.shape}], the model expects [${v.shape}]`);
      v.assign(t);
    }
  }

  dispose(): void {
    for (const [, p] of this.vars) p.v.dispose();
    this.vars.clear();
  }
}
