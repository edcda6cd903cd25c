// The AAE's validation over a split (training/lab/aae-task.ts): the aggregate posterior's statistics and D's
// accuracy, read batch by batch without leaving a tensor behind (it runs at every validation of a training run).
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { AAE, DEFAULT_AAE_CONFIG } from "../../lib/model/aae";
import { selectBackend } from "../../lib/tensor/backend";
import { validateAae } from "./aae-task";

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
});

describe("validateAae", () => {
  it("reports the codes' statistics and D's accuracy over every batch, and leaks no tensors", async () => {
    const model = new AAE({ ...DEFAULT_AAE_CONFIG, widths: [8, 8, 16], latentDim: 8, discHidden: 16 }, 2);
    const data = Uint8Array.from({ length: 5 * 32 * 32 * 3 }, (_, i) => (i * 37) % 256);
    const before = tf.memory().numTensors;
    const v = await validateAae(model, { count: 5, height: 32, width: 32, channels: 3, data }, 2); // batches of 2, 2, 1
    expect(tf.memory().numTensors).toBe(before);
    expect(v.nllBitsPerDim).toBeCloseTo(v.nllNats / (32 * 32 * 3 * Math.LN2), 9);
    expect(v.zStd).toBeGreaterThan(0);
    expect(v.discAccuracy).toBeGreaterThanOrEqual(0);
    expect(v.discAccuracy).toBeLessThanOrEqual(1);
    model.dispose();
  });
});
