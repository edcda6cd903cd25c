// The flow's task and its evaluation at a tiny size: one short run through the shared loop (a checkpoint of kind
// realnvp whose metrics hold val bits/dim, the baseline and the typicality threshold, each recomputed here), the
// threshold a quantile of the val scores as the app computes them, and the pair-ranking and pixel-shuffle helpers
// of `npm run eval:flow`.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Shard } from "../../lib/data/shard";
import { scoreTypicality } from "../../lib/generate/typicality";
import { readCheckpointManifest } from "../../lib/model/checkpoint";
import { RealNVP } from "../../lib/model/flow";
import { diagonalGaussianBitsPerDim, fitDiagonalGaussian } from "../../lib/model/flow-baseline";
import { DEFAULT_FLOW_CONFIG } from "../../lib/model/flow-config";
import { selectBackend } from "../../lib/tensor/backend";
import { registerFastGradients } from "../../lib/tensor/gradients";
import { train } from "../loop/trainer";
import { pairedRankedRight, pairsRankedRight, shufflePixels } from "./flow-eval";
import { createTask, FLOW_TRAINER_DEFAULTS, flowTaskDefinition, quantile, shardBitsPerDim, type FlowTaskOptions } from "./flow-task";

const S = 8;
/** Images with a structure (a bright square on a dark ground, placed by i) and a little noise. */
const shard = (count: number, seed: number): Shard => ({
  count,
  height: S,
  width: S,
  channels: 3,
  data: Uint8Array.from({ length: count * S * S * 3 }, (_, k) => {
    const i = Math.floor(k / (S * S * 3));
    const p = Math.floor(k / 3) % (S * S);
    const [y, x] = [Math.floor(p / S), p % S];
    const inside = Math.abs(y - 3 - (i % 2)) < 2 && Math.abs(x - 3 - ((i >> 1) % 2)) < 2;
    return (inside ? 220 : 30) + ((k * 7 + seed * 13) % 17);
  }),
});

const options = (): FlowTaskOptions => ({
  config: { ...DEFAULT_FLOW_CONFIG, imageSize: S, scales: 2, hidden: [4, 4], resBlocks: 0 },
  seed: 1,
  train: shard(32, 1),
  val: shard(12, 2),
});

let dir: string;
beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  registerFastGradients();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-flow-task-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("flow task", () => {
  it("trains through the shared loop to a realnvp checkpoint with val bits/dim, the baseline and the threshold", async () => {
    const o = options();
    const sink = { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream;
    const out = path.join(dir, "run");
    const task = await createTask(o, "main");
    const before = tf.memory().numTensors;
    let r;
    try {
      r = await train(
        task,
        { ...FLOW_TRAINER_DEFAULTS, batchSize: 8, steps: 6, warmup: 1, checkpointEvery: 3, valEvery: 3, logEvery: 1, workers: 1 },
        { outDir: out, dataHash: "cafe", definition: flowTaskDefinition(o), backend: "wasm", log: () => {}, progressStream: sink },
      );
      expect(tf.memory().numTensors).toBe(before);
      // Each metric recomputed: the val scores as the app scores an image, their mean and 99th percentile.
      const model = (task as unknown as { model: RealNVP }).model;
      const per = await shardBitsPerDim(model, o.val);
      const pixels = o.val.data.subarray(0, 3 * S * S * 3);
      const app = await scoreTypicality({ model, threshold: null }, pixels, 3);
      app.bitsPerDim.forEach((v, i) => expect(v).toBeCloseTo(per[i], 4));
      expect(r.metrics.valBitsPerDim).toBeCloseTo(per.reduce((a, b) => a + b, 0) / per.length, 6);
      expect(r.metrics.typicalThreshold).toBeCloseTo(quantile(per, 0.99), 6);
      expect(r.metrics.typicalThreshold).toBeGreaterThan(r.metrics.valBitsPerDimMedian);
      const g = diagonalGaussianBitsPerDim(fitDiagonalGaussian(o.train.data, o.train.count, S * S * 3), o.val.data, o.val.count);
      expect(r.metrics.baselineBitsPerDim).toBeCloseTo(g.reduce((a, b) => a + b, 0) / g.length, 6);
    } finally {
      task.dispose();
    }
    const m = readCheckpointManifest(path.join(out, "model"));
    expect(m.kind).toBe("realnvp");
    expect(Object.keys(m.metrics).sort()).toEqual(["baselineBitsPerDim", "typicalThreshold", "valBitsPerDim", "valBitsPerDimMedian"]);
    expect(m.extra.hyper).toMatchObject({ typicalQuantile: 0.99 });
  });

  it("takes quantiles by linear interpolation between order statistics", () => {
    expect(quantile([3, 1, 2, 5, 4], 0.5)).toBe(3);
    expect(quantile([1, 2], 0.99)).toBeCloseTo(1.99, 10);
    expect(quantile([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 0.99)).toBeCloseTo(99, 10);
  });
});

describe("typicality evaluation", () => {
  it("counts the pairs ranked right (the AUC), ties half", () => {
    expect(pairsRankedRight([1, 2], [3, 4])).toBe(1);
    expect(pairsRankedRight([3, 4], [1, 2])).toBe(0);
    expect(pairsRankedRight([1, 3], [2, 4])).toBe(0.75);
    expect(pairsRankedRight([2], [2])).toBe(0.5);
    expect(pairsRankedRight([1, 2, 2], [2, 5])).toBeCloseTo((1 + 0.5 + 0.5 + 1 + 1 + 1) / 6, 10);
    expect(pairedRankedRight([1, 5, 2], [2, 4, 2])).toBeCloseTo(1.5 / 3, 10);
  });

  it("shuffles each image's pixels, keeping every pixel's colour and the colour histogram", () => {
    const s = shard(3, 4);
    const t = shufflePixels(s, 9);
    expect(t.data).not.toEqual(s.data);
    const pixelsOf = (d: Uint8Array, i: number) =>
      Array.from({ length: S * S }, (_, p) => Array.from(d.subarray((i * S * S + p) * 3, (i * S * S + p) * 3 + 3)).join(",")).sort();
    for (let i = 0; i < 3; i++) expect(pixelsOf(t.data, i)).toEqual(pixelsOf(s.data, i));
    expect(shufflePixels(s, 9).data).toEqual(t.data);
  });
});
