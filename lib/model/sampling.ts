// Choosing the next token from logits, in plain JS on one row at a time: temperature, top-k (Fan et al. 2018),
// nucleus / top-p (Holtzman et al. 2020), and a seeded categorical draw, so the same seed gives the same image on
// every backend.

export interface SamplingFilter {
  /** > 0; 1 leaves the distribution as is, lower sharpens it. */
  temperature: number;
  /** Keep only the k most likely tokens (0 or undefined: all). */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p (1 or undefined: all). */
  topP?: number;
}

/** Indices that survive top-k and top-p, most likely first (ties broken by lower index). */
export function keptTokens(logits: ArrayLike<number>, f: SamplingFilter): number[] {
  const order = Array.from({ length: logits.length }, (_, i) => i).sort((a, b) => logits[b] - logits[a] || a - b);
  let kept = f.topK && f.topK > 0 ? order.slice(0, f.topK) : order;
  if (f.topP !== undefined && f.topP < 1) {
    const probs = softmax(kept.map((i) => logits[i] / f.temperature));
    let cum = 0;
    let n = 0;
    while (n < kept.length && cum < f.topP) cum += probs[n++];
    kept = kept.slice(0, Math.max(1, n));
  }
  return kept;
}

export function softmax(values: number[]): number[] {
  const max = Math.max(...values);
  const exps = values.map((v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

/**
 * sampleToken's working row (the kept tokens' scaled logits, then their exps), one for the whole module because
 * sampleToken is synchronous and runs once per image per token: building five K-element JS arrays per draw (index
 * list, scaled logits, spread max, exps, probs) was a fifth of the ONNX sampler's time at batch 1, a third at 8.
 */
let scratch = new Float64Array(0);

/**
 * Draws one token from the filtered distribution with `rand` ∈ [0, 1) (exactly one call). The arithmetic is
 * softmax's (x / T, max, exp(x − max), a left-to-right sum from 0) and then r −= p in kept order, so a seed gives
 * the same token on every engine that hands over the same logits.
 */
export function sampleToken(logits: ArrayLike<number>, f: SamplingFilter, rand: () => number): number {
  if (!(f.temperature > 0)) throw new Error(`temperature must be > 0, got ${f.temperature}`);
  const filtered = (f.topK !== undefined && f.topK > 0 && f.topK < logits.length) || (f.topP !== undefined && f.topP < 1);
  // Unfiltered: every token in index order, with neither the sort nor an index list (the server's default case).
  const kept = filtered ? keptTokens(logits, f) : null;
  const n = kept ? kept.length : logits.length;
  if (scratch.length < n) scratch = new Float64Array(n);
  const e = scratch;
  let max = -Infinity;
  for (let j = 0; j < n; j++) {
    e[j] = logits[kept ? kept[j] : j] / f.temperature;
    if (e[j] > max) max = e[j];
  }
  let sum = 0;
  for (let j = 0; j < n; j++) {
    e[j] = Math.exp(e[j] - max);
    sum += e[j];
  }
  let r = rand();
  for (let j = 0; j < n; j++) {
    r -= e[j] / sum;
    if (r < 0) return kept ? kept[j] : j;
  }
  return kept ? kept[n - 1] : n - 1;
}

/** Classifier-free guidance (Ho & Salimans 2021): uncond + s·(cond − uncond); s = 1 gives cond exactly. */
export function guide(cond: ArrayLike<number>, uncond: ArrayLike<number>, scale: number): Float32Array {
  const out = new Float32Array(cond.length);
  for (let i = 0; i < cond.length; i++) out[i] = scale === 1 ? cond[i] : uncond[i] + scale * (cond[i] - uncond[i]);
  return out;
}
