// The transformer task's batches: caption dropout replaces the caption by <null> in the share of rows asked for
// (what classifier-free guidance is trained on), decided per (step, row) so that every replica and a resumed run
// see the same batches.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { Transformer } from "../../lib/model/transformer";
import { DEFAULT_TRANSFORMER_CONFIG, type TransformerConfig } from "../../lib/model/transformer-config";
import { selectBackend } from "../../lib/tensor/backend";
import { createTask, validationLoss, type GptTaskOptions } from "./task";

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
});

const config: TransformerConfig = {
  ...DEFAULT_TRANSFORMER_CONFIG,
  textVocab: 40,
  textLen: 4,
  padId: 0,
  imageVocab: 16,
  imageGrid: 2,
  nLayer: 1,
  nHead: 1,
  nEmbd: 8,
  dropout: 0,
};
const nullText = [2, 0, 0, 0];
const options = (captionDropout: number): GptTaskOptions => {
  const count = 64;
  const text = Int32Array.from({ length: count * 4 }, (_, i) => (i % 4 === 0 ? 5 + (i % 30) : 7));
  const data = { count, text, codes: Int32Array.from({ length: count * 4 }, (_, i) => i % 16) };
  return { config, seed: 1, captionDropout, train: data, val: data, nullText };
};

async function nullShare(captionDropout: number): Promise<number> {
  const task = await createTask(options(captionDropout), "main");
  let rows = 0;
  let nulls = 0;
  for (let step = 0; step < 200; step++) {
    const b = task.plan(
      Int32Array.from({ length: 16 }, (_, i) => (i * 3 + step) % 64),
      step,
    );
    const text = b.arrays.text as Int32Array;
    for (let r = 0; r < b.rows; r++) {
      rows++;
      if (text[r * 4] === 2) nulls++;
    }
  }
  task.dispose();
  return nulls / rows;
}

describe("transformer task", () => {
  it("drops the share of captions asked for, and none at 0", async () => {
    expect(await nullShare(0)).toBe(0);
    expect(Math.abs((await nullShare(0.1)) - 0.1)).toBeLessThan(0.02);
    expect(Math.abs((await nullShare(0.5)) - 0.5)).toBeLessThan(0.03);
  });

  it("reads caption variant k in the share of rows given by variantProbs", async () => {
    const o = options(0);
    // Variant k of every item starts with token 10 + k.
    const variants = Int32Array.from({ length: 64 * 3 * 4 }, (_, i) => (i % 4 === 0 ? 10 + (Math.floor(i / 4) % 3) : 7));
    const task = await createTask({ ...o, train: { ...o.train, variants, variantProbs: [0.6, 0.3, 0.1] } }, "main");
    const seen = [0, 0, 0];
    for (let step = 0; step < 100; step++) {
      const text = task.plan(
        Int32Array.from({ length: 16 }, (_, i) => i),
        step,
      ).arrays.text as Int32Array;
      for (let r = 0; r < 16; r++) seen[text[r * 4] - 10]++;
    }
    task.dispose();
    const share = seen.map((n) => n / 1600);
    [0.6, 0.3, 0.1].forEach((p, k) => expect(Math.abs(share[k] - p)).toBeLessThan(0.04));
  });

  it("plans the same batch for the same step (resume, replicas)", async () => {
    const a = await createTask(options(0.3), "main");
    const items = Int32Array.from([1, 2, 3, 4, 5, 6]);
    expect(a.plan(items, 17).arrays.text).toEqual(a.plan(items, 17).arrays.text);
    a.dispose();
  });
});

describe("validationLoss", () => {
  it("is the mean loss over every row, whatever the batch size (a short last batch weighs what it holds)", async () => {
    const model = new Transformer(config, 3);
    const data = options(0).val;
    const count = 5;
    const reference = tf.tidy(() => {
      const l = model.loss(
        tf.tensor2d(data.text.subarray(0, count * 4), [count, 4], "int32"),
        tf.tensor2d(data.codes.subarray(0, count * 4), [count, 4], "int32"),
        false,
      );
      return { image: l.imageLoss.dataSync()[0], text: l.textLoss.dataSync()[0] };
    });
    const v = await validationLoss(model, data, count, 2);
    expect(v.imageNats).toBeCloseTo(reference.image, 5);
    expect(v.textNats).toBeCloseTo(reference.text, 5);
    expect(v.imageBits).toBeCloseTo(reference.image / Math.LN2, 5);
    expect((await validationLoss(model, data, count, 3)).imageNats).toBeCloseTo(reference.image, 5);
    model.dispose();
  });
});
