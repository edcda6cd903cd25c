// The CLIP task's batches and validation, and one short run through the shared training loop: caption variants in
// the share asked for, shifts within bounds and the same batch for the same step, positives for every image a
// caption describes (not only its own), and a checkpoint of kind "clip" with its hyper-parameters.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readCheckpointManifest } from "../../lib/model/checkpoint";
import { Clip } from "../../lib/model/clip";
import { DEFAULT_CLIP_CONFIG, type ClipConfig } from "../../lib/model/clip-config";
import { selectBackend } from "../../lib/tensor/backend";
import { registerFastGradients } from "../../lib/tensor/gradients";
import { train } from "../loop/trainer";
import { shiftImage } from "./augment";
import { captionPositives, CLIP_TRAINER_DEFAULTS, clipTaskDefinition, createTask, validateClip, type ClipTaskOptions } from "./task";

const config: ClipConfig = {
  ...DEFAULT_CLIP_CONFIG,
  imageWidths: [4, 8, 8],
  textVocab: 40,
  textLen: 4,
  nLayer: 1,
  nHead: 2,
  nEmbd: 16,
  embedDim: 16,
};
const PX = 32 * 32 * 3;
const count = 24;

/** Item i: a picture whose bytes depend on i; caption [5, 6 + i, 0, 0]; variant k > 0 is [1 + k, 6 + i, 0, 0]. */
const options = (over: Partial<ClipTaskOptions> = {}): ClipTaskOptions => {
  const images = Uint8Array.from({ length: count * PX }, (_, k) => (Math.floor(k / PX) * 37 + (k % 97) * 11) % 256);
  const text = Int32Array.from({ length: count * 4 }, (_, k) => (k % 4 === 0 ? 5 : k % 4 === 1 ? 6 + Math.floor(k / 4) : 0));
  const variants = Int32Array.from({ length: count * 3 * 4 }, (_, k) => {
    const row = Math.floor(k / 4);
    const item = Math.floor(row / 3);
    return row % 3 === 0 ? text[item * 4 + (k % 4)] : k % 4 === 0 ? 1 + (row % 3) : k % 4 === 1 ? 6 + item : 0;
  });
  const data = { count, images, text };
  return { config, seed: 1, train: { ...data, variants, variantProbs: [0.5, 0.3, 0.2] }, val: data, shift: 2, ...over };
};

let dir: string;
beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  registerFastGradients();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-clip-task-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("CLIP task", () => {
  it("reads caption variant k in the share of rows given by variantProbs, the same batch for the same step", async () => {
    const task = await createTask(options(), "main");
    const seen = [0, 0, 0];
    const items = Int32Array.from({ length: 16 }, (_, i) => i);
    for (let step = 0; step < 100; step++) {
      const text = task.plan(items, step).arrays.text as Int32Array;
      for (let r = 0; r < 16; r++) seen[text[r * 4] === 5 ? 0 : text[r * 4] - 1]++;
    }
    [0.5, 0.3, 0.2].forEach((p, k) => expect(Math.abs(seen[k] / 1600 - p)).toBeLessThan(0.04));
    expect(task.plan(items, 17).arrays).toEqual(task.plan(items, 17).arrays);
    task.dispose();
  });

  it("shifts each image by at most `shift` pixels, repeating the border", async () => {
    const src = Uint8Array.from({ length: 4 * 4 }, (_, i) => i); // 4×4, one channel
    const dst = new Uint8Array(16);
    shiftImage(src, dst, 4, 4, 1, 1, -1); // right by 1, up by 1
    expect([...dst]).toEqual([4, 4, 5, 6, 8, 8, 9, 10, 12, 12, 13, 14, 12, 12, 13, 14]);
    const task = await createTask(options({ shift: 0 }), "main");
    const b = task.plan(Int32Array.from([3, 7]), 5).arrays.images as Uint8Array;
    expect(b.subarray(PX, 2 * PX)).toEqual(options().train.images.subarray(7 * PX, 8 * PX));
    task.dispose();
  });

  it("reads an item's decoded picture in the share of rows given by decodedShare, its real one otherwise", async () => {
    const real = options().train.images;
    const decoded = real.map((v) => 255 - v); // any picture that tells the two apart
    const items = Int32Array.from({ length: 16 }, (_, i) => i + 4);
    for (const share of [0, 0.3, 1]) {
      const o = options({ shift: 0 });
      const task = await createTask({ ...o, train: { ...o.train, decoded, decodedShare: share } }, "main");
      let fromDecoded = 0;
      for (let step = 0; step < 50; step++) {
        const images = task.plan(items, step).arrays.images as Uint8Array;
        const bytes = (a: Uint8Array, i: number) => Buffer.from(a.buffer, a.byteOffset + i * PX, PX);
        items.forEach((item, r) => {
          const isDecoded = bytes(images, r).equals(bytes(decoded, item));
          expect(isDecoded || bytes(images, r).equals(bytes(real, item))).toBe(true);
          fromDecoded += +isDecoded;
        });
      }
      expect(Math.abs(fromDecoded / 800 - share)).toBeLessThan(0.05);
      task.dispose();
    }
  });

  it("counts a caption as a positive for every image whose own variants include it, and only those", () => {
    // textLen 2, two variants per image. Image 0: "A, noto" [1, 2] or "A" [1, 0]; image 1: "A, twemoji" [1, 3] or
    // "A" [1, 0]; image 2: "B, noto" [4, 2] or "B" [4, 0]. The rows read "A" (image 0), "A, twemoji", "B, noto".
    const text = Int32Array.from([1, 0, 1, 3, 4, 2]);
    const described = Int32Array.from([1, 2, 1, 0, 1, 3, 1, 0, 4, 2, 4, 0]);
    // "A" also describes image 1; "A, twemoji" does not describe image 0.
    expect([...captionPositives(text, described, 2)]).toEqual([1, 0, 0, 1, 1, 0, 0, 0, 1]);
  });

  it("validates with the loss and the within-chunk retrieval the model itself gives, in both directions", async () => {
    const model = new Clip(config, 2);
    const o = options();
    const n = count;
    // A few steps on the val pairs themselves, so that retrieval is partly right and differs between directions.
    const opt = tf.train.adam(1e-2);
    const params = [...model.params.trainable().values()];
    tf.tidy(() => {
      const images = tf.div(tf.tensor4d(o.val.images, [n, 32, 32, 3], "int32"), 255) as tf.Tensor4D;
      const ids = tf.tensor2d(o.val.text, [n, 4], "int32");
      for (let i = 0; i < 15; i++) opt.minimize(() => model.loss(images, ids).loss, false, params);
    });
    opt.dispose();
    const v = await validateClip(model, o.val, n, n);
    const want = tf.tidy(() => {
      const images = tf.div(tf.tensor4d(o.val.images, [n, 32, 32, 3], "int32"), 255) as tf.Tensor4D;
      const ids = tf.tensor2d(o.val.text, [n, 4], "int32");
      const sim = model.score(ids, images).arraySync(); // [texts, images]
      const argmax = (xs: number[]) => xs.indexOf(Math.max(...xs));
      let imageToText = 0;
      let textToImage = 0;
      for (let i = 0; i < n; i++) {
        if (argmax(sim.map((row) => row[i])) === i) imageToText++;
        if (argmax(sim[i]) === i) textToImage++;
      }
      return { loss: model.loss(images, ids).loss.dataSync()[0], imageToText1: imageToText / n, textToImage1: textToImage / n };
    });
    expect(v.loss).toBeCloseTo(want.loss, 4);
    expect(v.imageToText1).toBeCloseTo(want.imageToText1, 6);
    expect(v.textToImage1).toBeCloseTo(want.textToImage1, 6);
    // The two directions score differently here, so a swap of them would show.
    expect(want.imageToText1).not.toBe(want.textToImage1);
    model.dispose();
  });

  it("trains through the shared loop: a resumable checkpoint of kind clip with its hyper-parameters, nothing leaked", async () => {
    const before = tf.memory().numTensors;
    const o = options();
    const sink = { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream;
    const out = path.join(dir, "run");
    const run = async (steps: number, resume: boolean) => {
      const task = await createTask(o, "main");
      try {
        return await train(
          task,
          { ...CLIP_TRAINER_DEFAULTS, batchSize: 8, steps, warmup: 1, checkpointEvery: 2, valEvery: 2, logEvery: 1, workers: 1, resume },
          { outDir: out, dataHash: "cafe", definition: clipTaskDefinition(o), backend: "wasm", log: () => {}, progressStream: sink },
        );
      } finally {
        task.dispose();
      }
    };
    const r = await run(4, false);
    expect(r.step).toBe(4);
    expect(Object.keys(r.metrics).sort()).toEqual(["logitScale", "valImageToText1", "valLoss", "valTextToImage1"]);
    expect((await run(6, true)).step).toBe(6);
    const m = readCheckpointManifest(path.join(out, "model"));
    expect(m.kind).toBe("clip");
    expect(m.extra.hyper).toMatchObject({ shift: 2, captionVariants: [0.5, 0.3, 0.2] });
    const rows = fs
      .readFileSync(path.join(out, "log.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, number>);
    // The resumed run went on at step 5: no step trained twice.
    expect(rows.filter((x) => "loss" in x).map((x) => x.step)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const row of rows.filter((x) => "loss" in x)) expect(row).toMatchObject({ i2t: expect.any(Number), t2i: expect.any(Number) });
    expect(tf.memory().numTensors).toBe(before);
  });
});
