// CLIP (Radford et al. 2021): the symmetric InfoNCE loss against a hand-computed case, the [EOS] features, the
// temperature's initialisation and clamp, a tiny model that learns to prefer matching pairs, no tensor leaks at
// inference, and a checkpoint round trip.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../tensor/backend";
import { registerFastGradients } from "../tensor/gradients";
import { saveCheckpoint } from "./checkpoint";
import { Clip } from "./clip";
import { DEFAULT_CLIP_CONFIG, type ClipConfig } from "./clip-config";
import { clipLogits, l2Normalize, logitScaleOf, symmetricInfoNCE } from "./clip-loss";
import { withEos } from "./clip-text";

const config: ClipConfig = {
  ...DEFAULT_CLIP_CONFIG,
  imageWidths: [4, 8, 8],
  resBlocks: 1,
  textVocab: 12,
  textLen: 4,
  padId: 0,
  nLayer: 1,
  nHead: 2,
  nEmbd: 16,
  embedDim: 16,
};

/** Four captions that all start with the same token and differ only later (so only the [EOS] features tell them apart). */
const captions = () =>
  tf.tensor2d(
    [
      [5, 6, 0, 0],
      [5, 7, 0, 0],
      [5, 8, 9, 0],
      [5, 6, 9, 10],
    ],
    [4, 4],
    "int32",
  );

/** Four distinct 32×32 pictures: red top half, green left half, a blue square in the middle, a black diagonal. */
function pictures(): tf.Tensor4D {
  const s = 32;
  const px = new Float32Array(4 * s * s * 3).fill(1);
  const set = (i: number, y: number, x: number, rgb: number[]) => rgb.forEach((v, k) => (px[((i * s + y) * s + x) * 3 + k] = v));
  for (let y = 0; y < s; y++)
    for (let x = 0; x < s; x++) {
      if (y < s / 2) set(0, y, x, [1, 0, 0]);
      if (x < s / 2) set(1, y, x, [0, 0.8, 0]);
      if (y >= 8 && y < 24 && x >= 8 && x < 24) set(2, y, x, [0, 0, 1]);
      if (Math.abs(x - y) < 3) set(3, y, x, [0, 0, 0]);
    }
  return tf.tensor4d(px, [4, s, s, 3]);
}

let dir: string;
beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  registerFastGradients();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-clip-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("symmetric InfoNCE", () => {
  it("matches a hand-computed 2×2 case (normalisation, temperature, both directions)", () => {
    // Raw features, not unit: image 0 = (3, 0) → (1, 0), image 1 = (0, 0.5) → (0, 1); text 0 = (4, 3) → (0.8, 0.6),
    // text 1 = (0, 2) → (0, 1). Logit scale exp(log 5) = 5, so logits = 5 · cos = [[4, 0], [3, 5]] (row = image).
    // image→text, rows:   row 0 [4, 0] → −log σ(4 − 0) = log(1 + e^−4) = 0.018150;
    //                     row 1 [3, 5] → log(1 + e^−2) = 0.126928;              mean 0.072539
    // text→image, columns: col 0 [4, 3] → log(1 + e^−1) = 0.313262;
    //                     col 1 [0, 5] → log(1 + e^−5) = 0.006715;              mean 0.159989
    // loss = (0.072539 + 0.159989) / 2 = 0.116264.
    // (Both directions over rows would give 0.072539; scale e^−log 5 = 0.2 gives 0.448879; no l2 norm 0.646401.)
    const out = tf.tidy(() => {
      const images = l2Normalize(tf.tensor2d([3, 0, 0, 0.5], [2, 2]));
      const texts = l2Normalize(tf.tensor2d([4, 3, 0, 2], [2, 2]));
      const l = symmetricInfoNCE(clipLogits(images, texts, logitScaleOf(tf.scalar(Math.log(5)), 100)));
      return [l.loss, l.imageToText, l.textToImage].map((t) => t.dataSync()[0]);
    });
    expect(out[1]).toBeCloseTo(0.072539, 5);
    expect(out[2]).toBeCloseTo(0.159989, 5);
    expect(out[0]).toBeCloseTo(0.116264, 5);
  });

  it("spreads a row's target over every positive it is given", () => {
    // Caption 1 also describes image 0: image 0's target is ½·text 0 + ½·text 1; text 1's target is ½·image 0 + ½·image 1.
    // logits [[2, 1], [0, 3]]: i2t row 0 = −½ log p(0) − ½ log p(1) with p = softmax(2, 1) = (0.731059, 0.268941)
    // → 0.813262; row 1 = log(1 + e^−3) = 0.048587; mean 0.430924. t2i col 0 [2, 0] (only image 0) → log(1 + e^−2)
    // = 0.126928; col 1 [1, 3] (both) → −½ log 0.119203 − ½ log 0.880797 = 1.126928; mean 0.626928.
    const out = tf.tidy(() => {
      const l = symmetricInfoNCE(tf.tensor2d([2, 1, 0, 3], [2, 2]), tf.tensor2d([1, 1, 0, 1], [2, 2]));
      return [l.imageToText, l.textToImage].map((t) => t.dataSync()[0]);
    });
    expect(out[0]).toBeCloseTo(0.430924, 5);
    expect(out[1]).toBeCloseTo(0.626928, 5);
  });

  it("reads texts past the N-th as extra negatives of the image→text direction only", () => {
    // logits [[2, 1, 1.5], [0, 3, −1]]: two images, their two captions and one hard negative (column 2). i2t row 0 =
    // −(2 − log(e² + e + e^1.5)) = 0.680270, row 1 = −(3 − log(1 + e³ + e^−1)) = 0.065884, mean 0.373077; t2i over
    // the first two columns only: log(1 + e^−2) both, 0.126928 (with column 2 as well its mean would be over three).
    const out = tf.tidy(() => {
      const l = symmetricInfoNCE(tf.tensor2d([2, 1, 1.5, 0, 3, -1], [2, 3]), tf.tensor2d([1, 0, 0, 0, 1, 0], [2, 3]));
      const implicit = symmetricInfoNCE(tf.tensor2d([2, 1, 1.5, 0, 3, -1], [2, 3])); // default targets: image i ↔ text i
      return [l.imageToText, l.textToImage, implicit.loss, l.loss].map((t) => t.dataSync()[0]);
    });
    expect(out[0]).toBeCloseTo(0.373077, 5);
    expect(out[1]).toBeCloseTo(0.126928, 5);
    expect(out[2]).toBeCloseTo(out[3], 6);
    expect(() => symmetricInfoNCE(tf.zeros([3, 2]) as tf.Tensor2D)).toThrow(/at least N texts/);
  });
});

describe("CLIP", () => {
  it("appends [EOS] at each caption's first pad position, or after a caption that fills every position", () => {
    const { ids, eos } = withEos(
      tf.tensor2d(
        [
          [5, 6, 0, 0],
          [1, 2, 3, 4],
        ],
        [2, 4],
        "int32",
      ),
      config,
    );
    expect(ids.arraySync()).toEqual([
      [5, 6, 12, 0, 0],
      [1, 2, 3, 4, 12],
    ]);
    expect(eos.arraySync()).toEqual([
      [0, 0, 1, 0, 0],
      [0, 0, 0, 0, 1],
    ]);
    tf.dispose([ids, eos]);
  });

  it("gives a caption the same embedding whatever the other captions of its batch (only the longest's positions run)", () => {
    const model = new Clip(config, 7);
    const [alone, withLonger] = tf.tidy(() => [
      model.encodeTexts(tf.tensor2d([5, 6, 0, 0], [1, 4], "int32")).arraySync()[0],
      model.encodeTexts(tf.tensor2d([5, 6, 0, 0, 5, 6, 9, 10], [2, 4], "int32")).arraySync()[0],
    ]);
    alone.forEach((v, i) => expect(v).toBeCloseTo(withLonger[i], 5));
    // And the [EOS] features are not the last caption token's: a caption and its one-token-longer extension differ.
    const ext = tf.tidy(() => model.encodeTexts(tf.tensor2d([5, 6, 9, 0], [1, 4], "int32")).arraySync()[0]);
    expect(ext.some((v, i) => Math.abs(v - alone[i]) > 1e-3)).toBe(true);
    model.dispose();
  });

  it("starts at τ = 0.07 and never scales the logits by more than 100", () => {
    const model = new Clip(config, 1);
    const scale = () => tf.tidy(() => model.logitScale().dataSync()[0]);
    expect(scale()).toBeCloseTo(1 / 0.07, 4);
    const logScale = model.params.get("clip.logitScale");
    tf.tidy(() => logScale.assign(tf.scalar(Math.log(1000))));
    expect(scale()).toBeCloseTo(100, 3);
    model.clampLogitScale();
    expect(logScale.dataSync()[0]).toBeCloseTo(Math.log(100), 5);
    model.dispose();
  });

  it("embeds on the unit sphere", () => {
    const model = new Clip(config, 2);
    const norms = tf.tidy(() =>
      [model.encodeImages(pictures()), model.encodeTexts(captions())].map((e) => tf.sqrt(tf.sum(tf.square(e), 1)).arraySync() as number[]),
    );
    for (const n of norms.flat()) expect(n).toBeCloseTo(1, 4);
    model.dispose();
  });

  it("learns to prefer matching pairs: after 80 steps every caption's best image is its own, and back", () => {
    const model = new Clip(config, 3);
    const params = [...model.params.trainable().values()];
    const opt = tf.train.adam(1e-2);
    const x = pictures();
    const ids = captions();
    const first = tf.tidy(() => model.loss(x, ids).loss.dataSync()[0]);
    for (let i = 0; i < 80; i++) opt.minimize(() => model.loss(x, ids).loss, false, params);
    const last = tf.tidy(() => model.loss(x, ids).loss.dataSync()[0]);
    const s = model.score(ids, x);
    const sim = s.arraySync();
    s.dispose();
    expect(last).toBeLessThan(first * 0.1);
    // The diagonal wins its row (caption → image) and its column (image → caption).
    sim.forEach((row, t) => expect(row.indexOf(Math.max(...row))).toBe(t));
    for (let i = 0; i < 4; i++) {
      const col = sim.map((row) => row[i]);
      expect(col.indexOf(Math.max(...col))).toBe(i);
    }
    tf.dispose([x, ids]);
    opt.dispose();
    model.dispose();
  });

  it("releases every intermediate tensor of encodeImages, encodeTexts, score and loss", () => {
    const model = new Clip(config, 4);
    const x = pictures();
    const ids = captions();
    const before = tf.memory().numTensors;
    const outs = [model.encodeImages(x), model.encodeTexts(ids), model.score(ids, x)];
    const l = model.loss(x, ids);
    // Only the results themselves remain (the loss's four scalars), and nothing once they are disposed.
    expect(tf.memory().numTensors).toBe(before + outs.length + 4);
    tf.dispose([...outs, l.loss, l.imageToText, l.textToImage, l.logitScale]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, ids]);
    model.dispose();
  });

  it("round-trips through a checkpoint folder (float32 exactly, float16 closely), temperature included", async () => {
    const model = new Clip(config, 5);
    // The temperature is a stored parameter: set through the store, the model's own scale follows.
    tf.tidy(() => model.params.get("clip.logitScale").assign(tf.scalar(3.25)));
    expect(tf.tidy(() => model.logitScale().dataSync()[0])).toBeCloseTo(Math.exp(3.25), 4);
    const x = pictures();
    const ids = captions();
    const logits = () => tf.tidy(() => clipLogits(model.encodeImages(x), model.encodeTexts(ids), model.logitScale()).arraySync());
    const want = logits();
    await model.save(path.join(dir, "f32"), { step: 7, dataHash: "cafe" });
    await model.save(path.join(dir, "f16"), { dtype: "float16" });
    model.dispose();
    for (const [name, tol] of [
      ["f32", 1e-5],
      ["f16", 0.3], // logits up to ±26 (scale e^3.25): 1e-2 relative
    ] as const) {
      const { model: loaded, manifest } = Clip.load(path.join(dir, name));
      expect(manifest.kind).toBe("clip");
      expect(loaded.config).toEqual(config);
      const got = tf.tidy(() => clipLogits(loaded.encodeImages(x), loaded.encodeTexts(ids), loaded.logitScale()).arraySync());
      got.flat().forEach((v, i) => expect(Math.abs(v - want.flat()[i])).toBeLessThan(tol));
      loaded.dispose();
    }
    // A checkpoint of another kind is refused by name.
    const other = new Clip(config, 6);
    await saveCheckpoint(path.join(dir, "other"), other.params.all(), { kind: "transformer", config });
    other.dispose();
    expect(() => Clip.load(path.join(dir, "other"))).toThrow(/holds a "transformer" checkpoint, expected clip/);
    tf.dispose([x, ids]);
  });
});
