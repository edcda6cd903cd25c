// The AAE's validation over a split (training/lab/aae-task.ts): the aggregate posterior's statistics and D's
// accuracy, read batch by batch without leaving a tensor behind (it runs at every validation of a training run).
// The adversarial weight's options: a fixed λ or the adaptive one, never both or neither; what the lab's presets
// pick and what a checkpoint records of it; and the adaptive λ's measurement leaves no tensor behind either (it
// runs inside every tenth step's tape).
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { AAE, DEFAULT_AAE_CONFIG } from "../../lib/model/aae";
import { shared } from "../loop/task";
import { selectBackend } from "../../lib/tensor/backend";
import { createTask, validateAae, validateAdversarialWeight, type AAETaskOptions } from "./aae-task";
import { LAB_MODELS } from "./models";

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
});

const shard = (count: number) => ({
  count,
  height: 32,
  width: 32,
  channels: 3,
  data: shared(Uint8Array.from({ length: count * 32 * 32 * 3 }, (_, i) => (i * 37) % 256)),
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

describe("the adversarial weight", () => {
  const base = { advWarmupFraction: 0.1 };
  it("is a fixed λ or the adaptive one: neither, both, or either out of range is refused", () => {
    expect(() => validateAdversarialWeight({ ...base, advWeight: 50 })).not.toThrow();
    expect(() => validateAdversarialWeight({ ...base, adaptive: { factor: 1, every: 10 } })).not.toThrow();
    expect(() => validateAdversarialWeight(base)).toThrow(/one of the two/);
    expect(() => validateAdversarialWeight({ ...base, advWeight: 50, adaptive: { factor: 1, every: 10 } })).toThrow(/one of the two/);
    expect(() => validateAdversarialWeight({ ...base, advWeight: -1 })).toThrow(/advWeight/);
    expect(() => validateAdversarialWeight({ ...base, adaptive: { factor: 0, every: 10 } })).toThrow(/factor/);
    expect(() => validateAdversarialWeight({ ...base, adaptive: { factor: 1, every: 2.5 } })).toThrow(/every/);
    expect(() => validateAdversarialWeight({ advWarmupFraction: 1.5, advWeight: 50 })).toThrow(/advWarmupFraction/);
  });

  it("the lab keeps the fixed λ = 50 by default; the adaptive preset has the same networks and the adaptive λ", async () => {
    const { labModel } = await LAB_MODELS.aae();
    const options = (preset: string) =>
      labModel.definition({ train: shard(4), val: shard(2), seed: 2, preset, sheet: false }).options as AAETaskOptions;
    const [fixed, adaptive] = [options("default"), options("adaptive")];
    expect([fixed.advWeight, fixed.adaptive]).toEqual([50, undefined]);
    expect([adaptive.advWeight, adaptive.adaptive]).toEqual([undefined, { factor: 1, every: 10 }]);
    expect(adaptive.config).toEqual(fixed.config);
    expect(options("tiny").advWeight).toBe(50);
  });

  it("a checkpoint records a fixed λ as advWeight (as older ones did) and the adaptive one as adaptive", async () => {
    const o: AAETaskOptions = {
      config: { ...DEFAULT_AAE_CONFIG, widths: [8, 16], latentDim: 8, discHidden: 16 },
      seed: 1,
      train: shard(4),
      val: shard(2),
      advWeight: 50,
      advWarmupFraction: 0.1,
    };
    const fixed = await createTask(o, "main");
    const adaptive = await createTask({ ...o, advWeight: undefined, adaptive: { factor: 0.5, every: 5 } }, "main");
    try {
      expect(fixed.hyper).toMatchObject({ advWeight: 50 });
      expect(fixed.hyper).not.toHaveProperty("adaptive");
      expect(fixed.afterStep).toBeUndefined();
      expect(adaptive.hyper).toMatchObject({ adaptive: { factor: 0.5, every: 5 } });
      expect(adaptive.hyper).not.toHaveProperty("advWeight");
    } finally {
      fixed.dispose();
      adaptive.dispose();
    }
  });

  it("AAE.adaptiveWeight gives a finite λ > 0 for a batch and its noise, the same again, and leaks no tensors", () => {
    const model = new AAE({ ...DEFAULT_AAE_CONFIG, widths: [8, 16], latentDim: 8, discHidden: 16 }, 2);
    const images = tf.randomUniform([3, 32, 32, 3], 0, 1, "float32", 4) as tf.Tensor4D;
    try {
      const before = tf.memory().numTensors;
      const lambda = model.adaptiveWeight(images, 7);
      expect(tf.memory().numTensors).toBe(before);
      expect(Number.isFinite(lambda) && lambda > 0).toBe(true);
      expect(model.adaptiveWeight(images, 7)).toBe(lambda);
      expect(model.adaptiveWeight(images, 8)).not.toBe(lambda); // other noise, another λ
    } finally {
      images.dispose();
      model.dispose();
    }
  });
});
