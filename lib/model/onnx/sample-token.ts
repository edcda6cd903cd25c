// sampleToken (../sampling.ts) without its per-call arrays, for the case the server's default settings hit (no
// top-k, no top-p): once the ONNX step costs ~0.2 ms, building five 512-element JS arrays per image per token
// (index list, scaled logits, spread max, exps, probs) was a fifth of the time at batch 1 and a third at batch 8.
// The arithmetic is the same double-precision operations in the same order (x / T, max, exp(x − max), a
// left-to-right sum from 0, r −= e / sum), so the draw is bit-identical; filtered cases are passed through.
import { sampleToken, type SamplingFilter } from "../sampling";

export class TokenSampler {
  private scratch = new Float64Array(0);

  constructor(private readonly f: SamplingFilter) {
    if (!(f.temperature > 0)) throw new Error(`temperature must be > 0, got ${f.temperature}`);
  }

  /** Draws one token from `logits` with `rand` ∈ [0, 1), exactly as sampleToken(logits, f, rand). */
  draw(logits: ArrayLike<number>, rand: () => number): number {
    const { f } = this;
    const n = logits.length;
    const filtered = (f.topK !== undefined && f.topK > 0 && f.topK < n) || (f.topP !== undefined && f.topP < 1);
    if (filtered) return sampleToken(logits, f, rand);
    if (this.scratch.length < n) this.scratch = new Float64Array(n);
    const e = this.scratch;
    let max = -Infinity;
    for (let i = 0; i < n; i++) {
      e[i] = logits[i] / f.temperature;
      if (e[i] > max) max = e[i];
    }
    let sum = 0;
    for (let i = 0; i < n; i++) {
      e[i] = Math.exp(e[i] - max);
      sum += e[i];
    }
    let r = rand();
    for (let j = 0; j < n; j++) {
      r -= e[j] / sum;
      if (r < 0) return j;
    }
    return n - 1;
  }
}
