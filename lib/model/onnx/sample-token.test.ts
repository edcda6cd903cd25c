// TokenSampler must draw exactly what sampleToken draws, for any logits, temperature and uniform number: the ONNX
// sampler's "same codes for a seed" rests on it.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { mulberry32 } from "../../data/rng";
import { sampleToken } from "../sampling";
import { TokenSampler } from "./sample-token";

const logitsArb = fc.array(fc.float({ min: -30, max: 30, noNaN: true }), { minLength: 1, maxLength: 600 }).map((a) => Float32Array.from(a));

describe("TokenSampler", () => {
  it("draws the same token as sampleToken (unfiltered: its own loop)", () => {
    fc.assert(
      fc.property(logitsArb, fc.double({ min: 0.05, max: 3, noNaN: true }), fc.integer(), (logits, temperature, seed) => {
        const s = new TokenSampler({ temperature });
        const [a, b] = [mulberry32(seed), mulberry32(seed)];
        for (let i = 0; i < 5; i++) expect(s.draw(logits, a)).toBe(sampleToken(logits, { temperature }, b));
      }),
      { numRuns: 300 },
    );
  });

  it("draws the same token at the edges: ties, one token, a uniform number next to a boundary", () => {
    const s = new TokenSampler({ temperature: 1 });
    for (const logits of [Float32Array.of(0, 0, 0, 0), Float32Array.of(5), Float32Array.of(-0, 0, 1e-30, 30)])
      for (const u of [0, 0.25, 0.5 - 1e-16, 0.5, 0.75, 1 - 2 ** -53])
        expect(s.draw(logits, () => u)).toBe(sampleToken(logits, { temperature: 1 }, () => u));
  });

  it("passes top-k and top-p through to sampleToken", () => {
    const logits = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i) * 4);
    for (const f of [
      { temperature: 0.7, topK: 5 },
      { temperature: 1.3, topP: 0.8 },
    ]) {
      const [a, b] = [mulberry32(3), mulberry32(3)];
      const s = new TokenSampler(f);
      for (let i = 0; i < 20; i++) expect(s.draw(logits, a)).toBe(sampleToken(logits, f, b));
    }
  });

  it("refuses a temperature that is not > 0, as sampleToken does", () => {
    expect(() => new TokenSampler({ temperature: 0 })).toThrow(/temperature/);
  });
});
