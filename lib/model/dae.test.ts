// The denoising autoencoder's corruption and model: the corruption is seeded and does what its config says (clean
// images with pClean, noise no larger than maxSigma, salt and pepper black or white in every channel, JPEG and
// soft focus on the images drawn for them), the model
// round-trips through a checkpoint, refuses the wrong image size, and leaks no tensors.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { saveCheckpoint } from "./checkpoint";
import { DAE } from "./dae";
import { DEFAULT_DAE_CONFIG, type DAEConfig } from "./dae-config";
import { corrupt, DEFAULT_CORRUPTION, validateCorruption } from "./dae-corruption";
import { jpegRoundTrip } from "./upload-artifacts";
import { selectBackend } from "../tensor/backend";
import { blobPictures } from "../../test/fixtures/blob-pictures";

const tiny: DAEConfig = { ...DEFAULT_DAE_CONFIG, widths: [8, 16], resBlocks: 0 };
let dir: string;
beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-dae-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const grey = (b: number) => tf.fill([b, 32, 32, 3], 0.5) as tf.Tensor4D;

describe("corruption", () => {
  it("is the same for the same seed and differs for another", () => {
    const x = grey(4);
    const [a, b, c] = [1, 1, 2].map((s) => corrupt(x, DEFAULT_CORRUPTION, s));
    expect(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]).toBe(0);
    expect(tf.max(tf.abs(tf.sub(a, c))).dataSync()[0]).toBeGreaterThan(0.01);
    tf.dispose([x, a, b, c]);
  });

  it("leaves images clean with pClean = 1 and keeps Gaussian noise within maxSigma per image", () => {
    const x = grey(64);
    const clean = corrupt(x, { ...DEFAULT_CORRUPTION, pClean: 1 }, 3);
    expect(tf.max(tf.abs(tf.sub(clean, x))).dataSync()[0]).toBe(0);
    const noisy = corrupt(x, { pClean: 0, maxSigma: 0.1, pSaltPepper: 0, maxSaltPepper: 0 }, 4);
    const std = Array.from(tf.sqrt(tf.mean(tf.square(tf.sub(noisy, x)), [1, 2, 3])).dataSync());
    // σ ~ U[0, 0.1] per image: every std below 0.1 (plus sampling slack), their mean near 0.05, and not all alike.
    expect(Math.max(...std)).toBeLessThan(0.105);
    expect(std.reduce((a, b) => a + b, 0) / std.length).toBeGreaterThan(0.035);
    expect(std.reduce((a, b) => a + b, 0) / std.length).toBeLessThan(0.065);
    expect(Math.max(...std) - Math.min(...std)).toBeGreaterThan(0.05);
    tf.dispose([x, clean, noisy]);
  });

  it("sets salt-and-pepper pixels to black or white in every channel, at most maxSaltPepper of them", () => {
    const x = grey(16);
    const y = corrupt(x, { pClean: 0, maxSigma: 0, pSaltPepper: 1, maxSaltPepper: 0.2 }, 5);
    const v = y.dataSync();
    let hits = 0;
    for (let p = 0; p < v.length; p += 3) {
      const px = [v[p], v[p + 1], v[p + 2]];
      if (px.every((c) => c === 0.5)) continue;
      hits++;
      expect(px[0] === 0 || px[0] === 1).toBe(true);
      expect(px).toEqual([px[0], px[0], px[0]]);
    }
    expect(hits).toBeGreaterThan(0);
    expect(hits / (16 * 32 * 32)).toBeLessThan(0.2);
    tf.dispose([x, y]);
  });

  it("compresses the images drawn for JPEG as libjpeg would at a quality within the range, leaving the others as they are", () => {
    tf.tidy(() => {
      const x = tf.div(tf.tensor4d(blobPictures(32, 32, 3), [32, 32, 32, 3], "float32"), 255) as tf.Tensor4D;
      const only = { pClean: 0, maxSigma: 0, pSaltPepper: 0, maxSaltPepper: 0, pJpeg: 0.5, minJpegQuality: 10, maxJpegQuality: 20 };
      const y = corrupt(x, only, 6);
      const mse = (t: tf.Tensor4D) => Array.from(tf.mean(tf.square(tf.sub(t, x)), [1, 2, 3]).dataSync());
      const at = (q: number) => mse(jpegRoundTrip(x, tf.fill([32], q) as tf.Tensor1D));
      const [err, q10, q20] = [mse(y), at(10), at(20)];
      const changed = err.filter((e) => e > 0).length;
      // About half the images drawn; each changed one as damaged as quality 10..20 damages it (±20 %).
      expect(changed).toBeGreaterThan(8);
      expect(changed).toBeLessThan(24);
      err.forEach((e, i) => e > 0 && expect(e).toBeLessThanOrEqual(1.2 * Math.max(q10[i], q20[i])));
      err.forEach((e, i) => e > 0 && expect(e).toBeGreaterThanOrEqual(0.8 * Math.min(q10[i], q20[i])));
    });
  });

  it("blurs the images drawn for a soft focus: less variation between neighbours, the mean kept", () => {
    tf.tidy(() => {
      const x = tf.div(tf.tensor4d(blobPictures(16, 32, 4), [16, 32, 32, 3], "float32"), 255) as tf.Tensor4D;
      const y = corrupt(x, { pClean: 0, maxSigma: 0, pSaltPepper: 0, maxSaltPepper: 0, pBlur: 1 }, 7);
      const tv = (t: tf.Tensor4D) =>
        tf.mean(tf.abs(tf.sub(t.slice([0, 0, 1, 0], [-1, -1, 31, -1]), t.slice([0, 0, 0, 0], [-1, -1, 31, -1])))).dataSync()[0];
      expect(tv(y)).toBeLessThan(0.9 * tv(x));
      expect(Math.abs(tf.mean(y).dataSync()[0] - tf.mean(x).dataSync()[0])).toBeLessThan(0.01);
    });
  });

  it("refuses a config outside [0, 1] and JPEG qualities outside 1..100 or reversed", () => {
    expect(() => validateCorruption({ ...DEFAULT_CORRUPTION, maxSigma: -1 })).toThrow(/invalid corruption/);
    expect(() => validateCorruption({ ...DEFAULT_CORRUPTION, pJpeg: 2 })).toThrow(/invalid corruption/);
    expect(() => validateCorruption({ ...DEFAULT_CORRUPTION, minJpegQuality: 80, maxJpegQuality: 20 })).toThrow(/JPEG qualities/);
    expect(validateCorruption(DEFAULT_CORRUPTION)).toBe(DEFAULT_CORRUPTION);
  });
});

describe("DAE", () => {
  it("round-trips through a checkpoint and denoises as before", async () => {
    const a = new DAE(tiny, 7);
    const x = corrupt(grey(2), DEFAULT_CORRUPTION, 9);
    const ckpt = path.join(dir, "dae");
    await saveCheckpoint(ckpt, a.params.all(), { kind: "dae", config: a.config });
    const { model: b } = DAE.load(ckpt);
    const [ya, yb] = [a.denoise(x), b.denoise(x)];
    expect(tf.max(tf.abs(tf.sub(ya, yb))).dataSync()[0]).toBeLessThan(1e-6);
    expect(tf.min(ya).dataSync()[0]).toBeGreaterThanOrEqual(0);
    expect(tf.max(ya).dataSync()[0]).toBeLessThanOrEqual(1);
    tf.dispose([x, ya, yb]);
    a.dispose();
    b.dispose();
  });

  it("refuses images of another size, and leaks no tensors", () => {
    const m = new DAE(tiny, 1);
    const x = grey(3);
    const small = tf.zeros([1, 16, 16, 3]) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const noisy = corrupt(x, DEFAULT_CORRUPTION, i);
      tf.dispose([noisy, m.denoise(x), m.loss(noisy, x), m.encode(x), m.forward(noisy)]);
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(() => m.denoise(small)).toThrow(/takes \[B, 32, 32, 3\] images, got \[1,16,16,3\]/);
    tf.dispose([x, small]);
    m.dispose();
  });
});
