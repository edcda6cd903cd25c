// What /lab reads of a model folder: every lab model, trained (its manifest's metrics, in the card's order) or not.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LAB_KINDS, labCards, labComparison, labVariationKeep } from "./lab";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-lab-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe("labCards", () => {
  it("reads a trained model's metrics and samples, and says which are not trained", () => {
    const vae = path.join(root, "m", "lab", "vae");
    fs.mkdirSync(vae, { recursive: true });
    const metrics = { valKl: 180.5, baselineBitsPerDim: 7.99, valBitsPerDim: 6.2, other: 1 };
    fs.writeFileSync(path.join(vae, "manifest.json"), JSON.stringify({ step: 1200, metrics }));
    fs.writeFileSync(path.join(vae, "samples.png"), "");
    const cards = labCards("m", root);
    expect(cards.map((c) => c.kind)).toEqual([...LAB_KINDS]);
    expect(cards[0].trained).toEqual({
      steps: 1200,
      hasSamples: true,
      // The card's metrics in its own order; keys it does not show (and ones the manifest lacks) left out.
      metrics: [
        ["val −ELBO, bits/dim", 6.2],
        ["baseline: diagonal Gaussian on pixels, bits/dim", 7.99],
        ["val KL, nats/image", 180.5],
      ],
    });
    expect(cards[1].trained).toBeNull();
  });

  it("treats an unreadable manifest as not trained", () => {
    const flow = path.join(root, "m2", "lab", "flow");
    fs.mkdirSync(flow, { recursive: true });
    fs.writeFileSync(path.join(flow, "manifest.json"), "{ not json");
    expect(labCards("m2", root).map((c) => c.trained)).toEqual(LAB_KINDS.map(() => null));
  });
});

describe("labComparison", () => {
  it("reads eval:lab's rows in order, and is null without the file or with a broken one", () => {
    const dir = path.join(root, "m3", "lab");
    fs.mkdirSync(dir, { recursive: true });
    expect(labComparison("m3", root)).toBeNull();
    const row = (b: number) => ({
      images: 4,
      bitsPerDim: b,
      atypical: 0.5,
      clipScore: 30,
      labelRetrieval: { exact1: 0.1, exact5: 0.2, family1: 0.3, family5: 0.4 },
    });
    fs.writeFileSync(path.join(dir, "eval-lab.json"), JSON.stringify({ rows: { "real val emoji": row(4), "VAE prior samples": row(6) } }));
    expect(labComparison("m3", root)).toEqual([
      { name: "real val emoji", bitsPerDim: 4, atypical: 0.5, clipScore: 30, labelsExact1: 0.1, labelsFamily5: 0.4 },
      { name: "VAE prior samples", bitsPerDim: 6, atypical: 0.5, clipScore: 30, labelsExact1: 0.1, labelsFamily5: 0.4 },
    ]);
    fs.writeFileSync(path.join(dir, "eval-lab.json"), "{");
    expect(labComparison("m3", root)).toBeNull();
  });

  it("reads the variation keep rates when eval:lab measured them, and none otherwise", () => {
    const dir = path.join(root, "m4", "lab");
    fs.mkdirSync(dir, { recursive: true });
    expect(labVariationKeep("m4", root)).toEqual([]);
    fs.writeFileSync(path.join(dir, "eval-lab.json"), JSON.stringify({ rows: {} }));
    expect(labVariationKeep("m4", root)).toEqual([]);
    const v = { sources: 128, k: 4, scale: 1, keepsFamilyPixels: 0.77, keepsFamilyClip: 0.26 };
    fs.writeFileSync(
      path.join(dir, "eval-lab.json"),
      JSON.stringify({ rows: {}, variations: { VAE: v, AAE: { ...v, keepsFamilyPixels: 0.39 } } }),
    );
    expect(labVariationKeep("m4", root)).toEqual([
      { model: "VAE", sources: 128, keepsFamilyPixels: 0.77, keepsFamilyClip: 0.26 },
      { model: "AAE", sources: 128, keepsFamilyPixels: 0.39, keepsFamilyClip: 0.26 },
    ]);
  });
});
