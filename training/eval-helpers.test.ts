// The evaluation helpers on hand-made data: nearest-neighbour retrieval and the tokenizer score table.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../lib/tensor/backend";
import { registerFastGradients } from "../lib/tensor/gradients";
import { DEFAULT_VQ_CONFIG } from "../lib/model/vq-config";
import { VQModel } from "../lib/model/vq-model";
import { topK } from "./gpt/eval-sets";
import { sheetPrompts } from "./gpt/sample-sheet";
import { evaluateTokenizer, formatTable } from "./vq/evaluate";

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  registerFastGradients();
});

describe("retrieval", () => {
  it("finds the nearest corpus rows by squared error, nearest first", () => {
    const corpus = tf.tensor2d([
      [0, 0, 0],
      [1, 1, 1],
      [0.5, 0, 1],
    ]);
    const q = tf.tensor2d([
      [0.9, 1, 0.8],
      [0.1, 0, 0.2],
      [0.5, 0.1, 0.7],
    ]);
    const nn = topK(q, tf.transpose(corpus) as tf.Tensor2D, tf.sum(tf.square(corpus), 1) as tf.Tensor1D, 2);
    expect(nn.map((row) => [...row])).toEqual([
      [1, 2],
      [0, 2],
      [2, 0],
    ]);
  });
  it("takes distinct prompts for sample sheets", () => {
    expect(sheetPrompts(["a", "b", "a", "c"], 2)).toEqual(["a", "b"]);
  });
});

describe("tokenizer evaluation", () => {
  it("scores a split and formats a table", () => {
    const model = new VQModel(
      { ...DEFAULT_VQ_CONFIG, encoderWidths: [8, 16], decoderWidths: [8, 16], outputWidth: 8, codebookSize: 16, embedDim: 8 },
      1,
    );
    const data = new Uint8Array(5 * 32 * 32 * 3).map((_, i) => (i * 37) % 256);
    const row = evaluateTokenizer(model, { count: 5, height: 32, width: 32, channels: 3, data }, "tiny", "val", { batchSize: 2 });
    expect(row.mse).toBeGreaterThan(0);
    expect(row.psnr).toBeCloseTo(10 * Math.log10(1 / row.mse), 6);
    expect(row.usage).toBeGreaterThan(0);
    expect(row.usage).toBeLessThanOrEqual(1);
    expect(row.bitsPerImage).toBe(8 * 8 * 4);
    expect(row.sharpness).toBeGreaterThan(0);
    expect(row.ceiling).toBeNull();
    const table = formatTable([row]);
    expect(table.split("\n")).toHaveLength(3);
    expect(table).toMatch(/\| tiny +\| val +\|/);
    model.dispose();
  });
});
