import { describe, expect, it } from "vitest";
import { mulberry32 } from "../data/rng";
import { guide, keptTokens, sampleToken, softmax } from "./sampling";

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
