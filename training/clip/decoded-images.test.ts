// The decoded pictures CLIP may train on are the tokenizer's reconstructions as served (tfjs encoder, ONNX decoder,
// 8-bit), item for item across batch boundaries, and the cache computes them once.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_VQ_CONFIG } from "../../lib/model/vq-config";
import { VQModel } from "../../lib/model/vq-model";
import { selectBackend } from "../../lib/tensor/backend";
import { cachedBytes, decodedImages } from "./decoded-images";

const PX = 32 * 32 * 3;
let dir: string;
beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-decoded-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("decoded images", () => {
  it("are each image's reconstruction, rounded to 8 bits, in order across batches", async () => {
    const vq = new VQModel(
      { ...DEFAULT_VQ_CONFIG, encoderWidths: [8, 16], decoderWidths: [8, 16], outputWidth: 8, codebookSize: 32, embedDim: 8 },
      3,
    );
    const count = 7;
    const images = Uint8Array.from({ length: count * PX }, (_, k) => (Math.floor(k / PX) * 53 + ((k * 7919) % 251)) % 256);
    const got = await decodedImages(vq, images, count, { size: 32, channels: 3, batch: 3 });
    const want = tf.tidy(() => {
      const x = tf.div(tf.tensor4d(images, [count, 32, 32, 3], "int32"), 255) as tf.Tensor4D;
      return tf.round(tf.mul(vq.reconstruct(x), 255)).dataSync();
    });
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(want[i] - got[i]));
    expect(worst).toBeLessThanOrEqual(1); // float rounding at a half-level, no more
    // Images differ from each other, so an item read from another's slot would show.
    let apart = 0;
    for (let i = 0; i < PX; i++) apart = Math.max(apart, Math.abs(want[i] - want[6 * PX + i]));
    expect(apart).toBeGreaterThan(10);
    await expect(decodedImages(vq, images.subarray(1), count, { size: 32, channels: 3 })).rejects.toThrow(/not 7 images/);
    vq.dispose();
  });

  it("are computed once and read back from the cache, and recomputed when the file is the wrong size", async () => {
    const file = path.join(dir, "k", "train-32.u8");
    let calls = 0;
    const compute = async () => {
      calls++;
      return Uint8Array.from([1, 2, 3, 4]);
    };
    expect([...(await cachedBytes(file, 4, compute))]).toEqual([1, 2, 3, 4]);
    expect([...(await cachedBytes(file, 4, compute))]).toEqual([1, 2, 3, 4]);
    expect(calls).toBe(1);
    fs.writeFileSync(file, Uint8Array.from([9])); // a truncated file
    expect([...(await cachedBytes(file, 4, compute))]).toEqual([1, 2, 3, 4]);
    expect(calls).toBe(2);
    expect(fs.existsSync(`${file}.tmp`)).toBe(false);
  });
});
