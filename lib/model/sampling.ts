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

/** Draws one token from the filtered distribution with `rand` ∈ [0, 1). */
export function sampleToken(logits: ArrayLike<number>, f: SamplingFilter, rand: () => number): number {
  if (!(f.temperature > 0)) throw new Error(`temperature must be > 0, got ${f.temperature}`);
  const filtered = (f.topK !== undefined && f.topK > 0 && f.topK < logits.length) || (f.topP !== undefined && f.topP < 1);
  // Unfiltered: draw over all tokens in index order, skipping the sort (this runs once per token per image).
  const kept = filtered ? keptTokens(logits, f) : Array.from({ length: logits.length }, (_, i) => i);
  const probs = softmax(kept.map((i) => logits[i] / f.temperature));
  let r = rand();
  for (let j = 0; j < kept.length; j++) {
    r -= probs[j];
    if (r < 0) return kept[j];
  }
  return kept[kept.length - 1];
}

/** Classifier-free guidance (Ho & Salimans 2021): uncond + s·(cond − uncond); s = 1 gives cond exactly. */
export function guide(cond: ArrayLike<number>, uncond: ArrayLike<number>, scale: number): Float32Array {
  const out = new Float32Array(cond.length);
  for (let i = 0; i < cond.length; i++) out[i] = scale === 1 ? cond[i] : uncond[i] + scale * (cond[i] - uncond[i]);
  return out;
}
