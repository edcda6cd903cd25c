// Real-NVP (lib/model/flow.ts) as a training task (training/loop/task.ts): the loss is the batch's mean bits/dim
// under one fresh dequantisation draw per step — maximum likelihood, in the unit the paper reports. Validation
// scores the whole val split as the app scores an image (bits/dim per image: their mean, their median and their 99th
// percentile, which the app takes as the typicality threshold above which an image is "far off the data"), beside
// the diagonal-Gaussian pixel baseline fitted on train (lib/model/flow-baseline.ts) in the same unit. The step also
// runs as one ONNX graph (./flow-native-step.ts), ORT's by default, fed the same dequantisation noise.
import * as tf from "@tensorflow/tfjs";
import { hashString } from "../../lib/data/rng";
import { imageBytes, type Shard } from "../../lib/data/shard";
import { TYPICALITY_SEED } from "../../lib/generate/typicality";
import { RealNVP } from "../../lib/model/flow";
import { diagonalGaussianBitsPerDim, fitDiagonalGaussian } from "../../lib/model/flow-baseline";
import { DEFAULT_FLOW_CONFIG, type FlowConfig } from "../../lib/model/flow-config";
import { imageGridPng, tensorToImages } from "../image-grid";
import { DEFAULT_TRAINER_CONFIG, type TrainerConfig } from "../loop/config";
import type { Batch, CreateTask, StepContext, TaskDefinition, TrainTask } from "../loop/task";
import { pixelsOf, planImages } from "../loop/image-batch";
import { flowNativeStep } from "./flow-native-step";
import type { LabContext, LabModel } from "./models";

/** Named presets (training code only). */
export const FLOW_PRESETS: Record<string, Partial<FlowConfig>> = {
  default: {},
  /** Seconds-scale model for tests and smoke runs. */
  tiny: { hidden: [8, 8], resBlocks: 0 },
};

export const FLOW_TRAINER_DEFAULTS: Readonly<TrainerConfig> = Object.freeze({
  ...DEFAULT_TRAINER_CONFIG,
  batchSize: 64,
  lr: 1e-3,
  // ~750 steps fit in a 20-minute run on two cores (~40 img/s): a short warm-up.
  warmup: 100,
  lrFloor: 0.05,
  // The paper's L2 on the coupling networks' weights (5e-5), decoupled here (AdamW) on conv kernels only.
  weightDecay: 5e-5,
  // exp(s) makes the odd batch's gradient spike: clip the global norm (loss in bits/dim, norms of a few units).
  clip: 20,
  checkpointEvery: 500,
  valEvery: 250,
});

/** The typicality threshold is this quantile of the validation images' bits/dim. */
export const TYPICAL_QUANTILE = 0.99;

export interface FlowTaskOptions {
  config: FlowConfig;
  seed: number;
  train: Shard;
  val: Shard;
  sheet?: boolean;
}

/**
 * The seed of a step's dequantisation noise, per step and replica: a fresh u each step, so the dequantised
 * likelihood is maximised in expectation over u (§4.1). Both engines read it: the tfjs loss through
 * RealNVP.bitsPerDim, the native step as its noise feed (./flow-native-step.ts).
 */
export function flowNoiseSeed(o: Pick<FlowTaskOptions, "seed">, ctx: Pick<StepContext, "step" | "replica">): number {
  return hashString(`dequant:${ctx.step}:${ctx.replica}`, o.seed);
}

export const FLOW_TASK_MODULE = new URL("./flow-task.ts", import.meta.url).href;

export function flowTaskDefinition(options: FlowTaskOptions): TaskDefinition<FlowTaskOptions> {
  return { module: FLOW_TASK_MODULE, options };
}

/** The q-quantile of values (linear interpolation between order statistics). */
export function quantile(values: ArrayLike<number>, q: number): number {
  const sorted = Float64Array.from(values).sort();
  if (!sorted.length) return NaN;
  const at = q * (sorted.length - 1);
  const lo = Math.floor(at);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

/**
 * Bits/dim of every image of a shard (uint8 HWC), in batches, scored as the app scores them (lib/generate/typicality.ts:
 * one shared dequantisation draw from `seed`, by default the app's), so the threshold fits the app's numbers.
 */
export async function shardBitsPerDim(flow: RealNVP, shard: Shard, seed = TYPICALITY_SEED, batchSize = 128): Promise<Float32Array> {
  const n = imageBytes(shard);
  const out = new Float32Array(shard.count);
  for (let from = 0; from < shard.count; from += batchSize) {
    const rows = Math.min(batchSize, shard.count - from);
    const pixels = tf.tensor4d(
      shard.data.subarray(from * n, (from + rows) * n),
      [rows, shard.height, shard.width, shard.channels],
      "int32",
    );
    const bpd = flow.bitsPerDim(pixels, seed, "shared");
    try {
      out.set(await bpd.data(), from);
    } finally {
      tf.dispose([pixels, bpd]);
    }
  }
  return out;
}

export const createTask: CreateTask<FlowTaskOptions> = async (o, role) => {
  const model = new RealNVP(o.config, o.seed);
  const bytes = imageBytes(o.train);
  // The baseline is fitted once, on the main thread only (workers never validate).
  let baseline: number | undefined;
  const baselineBitsPerDim = () => {
    if (baseline === undefined) {
      const g = fitDiagonalGaussian(o.train.data, o.train.count, bytes);
      const per = diagonalGaussianBitsPerDim(g, o.val.data, o.val.count);
      baseline = per.reduce((a, b) => a + b, 0) / per.length;
    }
    return baseline;
  };
  const task: TrainTask & { model: RealNVP } = {
    model,
    kind: "realnvp",
    config: o.config,
    hyper: { initSeed: o.seed, typicalQuantile: TYPICAL_QUANTILE },
    params: model.params,
    // The same step as `loss` below as one ONNX graph, ORT's by default.
    native: flowNativeStep(o.config, o.train, (ctx) => flowNoiseSeed(o, ctx)),
    itemCount: o.train.count,
    throughput: { unit: "img", perItem: 1 },
    // Conv kernels only: not the biases, nor the bounds of s.
    decays: (name) => name.endsWith(".w"),
    plan: (items: Int32Array): Batch => planImages(o.train, items),
    loss(batch: Batch, ctx: StepContext) {
      const pixels = pixelsOf(batch, o.train); // [B, H, W, C] in 0..255
      const bpd = tf.mean(model.bitsPerDim(pixels, flowNoiseSeed(o, ctx))) as tf.Scalar;
      return { loss: bpd, logs: {} };
    },
    async validate() {
      const per = await shardBitsPerDim(model, o.val);
      return {
        valBitsPerDim: per.reduce((a, b) => a + b, 0) / per.length,
        valBitsPerDimMedian: quantile(per, 0.5),
        typicalThreshold: quantile(per, TYPICAL_QUANTILE),
        baselineBitsPerDim: baselineBitsPerDim(),
      };
    },
    sheet:
      o.sheet && role === "main"
        ? async (file: string) => {
            // Samples at temperature 0.7 (the paper's figures sample at reduced temperature too): what it learned.
            const samples = model.sample(32, o.seed, 0.7);
            try {
              await imageGridPng(await tensorToImages(samples), o.config.imageSize, 8, file);
            } finally {
              samples.dispose();
            }
          }
        : undefined,
    dispose: () => model.dispose(),
  };
  return task;
};

export const labModel: LabModel = {
  summary: "flow: Real-NVP (affine couplings, checkerboard + channel masks), bits/dim vs a diagonal Gaussian; typicality for the app",
  presets: ["default", "tiny"],
  trainerDefaults: FLOW_TRAINER_DEFAULTS,
  definition: (ctx: LabContext) =>
    flowTaskDefinition({
      config: { ...DEFAULT_FLOW_CONFIG, ...FLOW_PRESETS[ctx.preset], imageSize: ctx.train.height, channels: ctx.train.channels },
      seed: ctx.seed,
      train: ctx.train,
      val: ctx.val,
      sheet: ctx.sheet,
    }),
  // float32: the threshold was measured on these exact weights; float16 rounding would move every score a little.
  exportDtype: "float32",
};
