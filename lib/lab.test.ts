// What /lab reads of a model folder: every lab model, trained (its manifest's metrics, in the card's order) or not.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LAB_KINDS, labCards } from "./lab";

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
    expect(labCards("m2", root).map((c) => c.trained)).toEqual([null, null]);
  });
});
