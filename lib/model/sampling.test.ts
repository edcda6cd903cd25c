import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { mulberry32 } from "../data/rng";
import { guide, keptTokens, sampleToken, softmax, type SamplingFilter } from "./sampling";

const logits = [2, 0.5, 3, -1, 0.5, 1];

describe("token filters", () => {
  it("top-k keeps exactly the k most likely tokens", () => {
    expect(keptTokens(logits, { temperature: 1, topK: 3 }).sort()).toEqual([0, 2, 5]);
    expect(keptTokens(logits, { temperature: 1, topK: 1 })).toEqual([2]);
    expect(keptTokens(logits, { temperature: 1 })).toHaveLength(6);
  });

  it("top-p keeps the smallest most-likely set reaching p", () => {
    const p = softmax(logits); // sorted: 2 (0.53), 0 (0.20), 5 (0.07)…
    const order = [2, 0, 5, 1, 4, 3];
    let cum = 0;
    const expected: number[] = [];
    for (const i of order) {
      if (cum >= 0.8) break;
      expected.push(i);
      cum += p[i];
    }
    expect(keptTokens(logits, { temperature: 1, topP: 0.8 })).toEqual(expected);
    expect(keptTokens(logits, { temperature: 1, topP: 0.01 })).toEqual([2]);
  });

  it("samples only kept tokens, with the right frequencies", () => {
    const rand = mulberry32(1);
    const counts = new Map<number, number>();
    for (let i = 0; i < 20000; i++) {
      const t = sampleToken(logits, { temperature: 1, topK: 2 }, rand);
      counts.set(t, (counts.get(t) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual([0, 2]);
    const p2 = Math.exp(3) / (Math.exp(3) + Math.exp(2));
    expect(Math.abs(counts.get(2)! / 20000 - p2)).toBeLessThan(0.02);
  });

  it("rejects a non-positive temperature", () => {
    expect(() => sampleToken(logits, { temperature: 0 }, Math.random)).toThrow(/temperature/);
  });

  it("classifier-free guidance with s = 1 is the conditional logits; s > 1 extrapolates", () => {
    expect([...guide([1, 2], [5, 5], 1)]).toEqual([1, 2]);
    expect([...guide([1, 2], [0, 0], 3)]).toEqual([3, 6]);
  });
});

/**
 * sampleToken as it was written before it reused a buffer, with an array per step: softmax over the kept tokens,
 * then r −= p in kept order. Every engine's "same codes for a seed" rests on the two drawing the same token.
 */
function arraySampleToken(logits: ArrayLike<number>, f: SamplingFilter, rand: () => number): number {
  const filtered = (f.topK !== undefined && f.topK > 0 && f.topK < logits.length) || (f.topP !== undefined && f.topP < 1);
  const kept = filtered ? keptTokens(logits, f) : Array.from({ length: logits.length }, (_, i) => i);
  const probs = softmax(kept.map((i) => logits[i] / f.temperature));
  let r = rand();
  for (let j = 0; j < kept.length; j++) {
    r -= probs[j];
    if (r < 0) return kept[j];
  }
  return kept[kept.length - 1];
}

const logitsArb = fc.array(fc.float({ min: -30, max: 30, noNaN: true }), { minLength: 1, maxLength: 600 }).map((a) => Float32Array.from(a));

describe("sampleToken's reused buffer", () => {
  it("draws the same token as the array arithmetic (unfiltered: no index list)", () => {
    fc.assert(
      fc.property(logitsArb, fc.double({ min: 0.05, max: 3, noNaN: true }), fc.integer(), (logits, temperature, seed) => {
        const [a, b] = [mulberry32(seed), mulberry32(seed)];
        for (let i = 0; i < 5; i++) expect(sampleToken(logits, { temperature }, a)).toBe(arraySampleToken(logits, { temperature }, b));
      }),
      { numRuns: 300 },
    );
  });

  it("draws the same token at the edges: ties, one token, a uniform number next to a boundary", () => {
    for (const logits of [Float32Array.of(0, 0, 0, 0), Float32Array.of(5), Float32Array.of(-0, 0, 1e-30, 30)])
      for (const u of [0, 0.25, 0.5 - 1e-16, 0.5, 0.75, 1 - 2 ** -53])
        expect(sampleToken(logits, { temperature: 1 }, () => u)).toBe(arraySampleToken(logits, { temperature: 1 }, () => u));
  });

  it("draws the same token under top-k and top-p, after a longer row has grown the buffer", () => {
    const logits = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i) * 4);
    sampleToken(new Float32Array(1000), { temperature: 1 }, () => 0.5);
    for (const f of [
      { temperature: 0.7, topK: 5 },
      { temperature: 1.3, topP: 0.8 },
    ]) {
      const [a, b] = [mulberry32(3), mulberry32(3)];
      for (let i = 0; i < 20; i++) expect(sampleToken(logits, f, a)).toBe(arraySampleToken(logits, f, b));
    }
  });
});
