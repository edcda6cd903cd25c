// Real-NVP's native training graph against the tfjs tape it replaces (the task's loss, the batch mean of
// RealNVP.bitsPerDim under tf.variableGrads, as training/lab/flow-task.ts runs it on the tfjs engine): the loss and
// every parameter's gradient, on tiny configs and on the shipped flow. The graph is fed the u that dequantise draws
// for the seed (tf.randomUniform, the same seeded stream). Weights are scrambled first: at initialisation every
// coupling's last conv is zero, so every coupling is the identity and every gradient but the last convs' is zero,
// which would hide a wrong mask, scale or log-det. Then proof that the comparison can tell: each planted bug fails it.
import * as tf from "@tensorflow/tfjs";
import { Tensor } from "onnxruntime-node";
import { beforeAll, describe, expect, it } from "vitest";
import { graphErrors, tapeOf } from "../../../test/fixtures/graph-session";
import { expectEqualToTape, expectPlantSeen, itWithModel } from "../../../test/fixtures/tape-equality";
import { mulberry32 } from "../../data/rng";
import { selectBackend } from "../../tensor/backend";
import { registerFastGradients } from "../../tensor/gradients";
import { RealNVP } from "../flow";
import { DEFAULT_FLOW_CONFIG, type FlowConfig } from "../flow-config";
import { exportFlowTrainingGraph, type FlowTrainingGraphOptions } from "./flow-training-graph";

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  registerFastGradients(); // the gradients the trainer's tape uses
});

const ROWS = 4;
const SEED = 4242;

/** A disc on a plain ground as uint8 [B, S, S, C], with grain; levels 0 and 255 in every batch. */
function pictures(rows: number, size: number, channels: number, seed: number): Uint8Array {
  const r = mulberry32(seed);
  const out = new Uint8Array(rows * size * size * channels);
  for (let b = 0; b < rows; b++) {
    const [cx, cy, rad] = [r() * size, r() * size, 1 + r() * (size / 3)];
    const fg = Array.from({ length: channels }, (_, c) => (c === 0 ? 0 : r() * 255));
    const bg = Array.from({ length: channels }, () => (b % 2 === 0 ? 255 : r() * 255));
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++)
        for (let c = 0; c < channels; c++) {
          const v = (x - cx) ** 2 + (y - cy) ** 2 < rad * rad ? fg[c] : bg[c];
          out[((b * size + y) * size + x) * channels + c] = v === 0 || v === 255 ? v : Math.min(255, Math.round(v * (0.9 + 0.2 * r())));
        }
  }
  return out;
}

/** A flow whose every weight is random (the bounds of s drawn from [0.5, 1.5]), so no coupling is the identity. */
function scrambled(config: FlowConfig, seed = 1, std = 0.15): RealNVP {
  const flow = new RealNVP(config, seed);
  let k = 0;
  for (const [name, v] of flow.params.all())
    tf.tidy(() =>
      v.assign(
        name.endsWith(".scale")
          ? tf.randomUniform(v.shape, 0.5, 1.5, "float32", seed * 1000 + k++)
          : tf.randomNormal(v.shape, 0, std, "float32", seed * 1000 + k++),
      ),
    );
  return flow;
}

async function compare(m: RealNVP, planted: FlowTrainingGraphOptions["planted"] = {}, rows = ROWS) {
  const { imageSize: size, channels } = m.config;
  const pixels = pictures(rows, size, channels, 5);
  const shape: [number, number, number, number] = [rows, size, size, channels];
  const images = tf.tensor4d(pixels, shape, "int32");
  const want = tapeOf(m.params, () => ({ loss: tf.mean(m.bitsPerDim(images, SEED)) as tf.Scalar, logs: {} }));
  // The u dequantise drew: tf.randomUniform over the batch's shape from the same seed ("fresh" noise).
  const uT = tf.randomUniform(shape, 0, 1, "float32", SEED);
  const u = Float32Array.from(uT.dataSync());
  tf.dispose([images, uT]);

  const g = exportFlowTrainingGraph(m.config, { batch: rows, gradients: true, planted });
  const feeds = {
    [g.names.images]: new Tensor("uint8", pixels, shape),
    [g.names.noise]: new Tensor("float32", u, shape),
  };
  return graphErrors(g, m.params, feeds, want);
}

/**
 * Seen: loss ≤ 6.2e-7; gradients 5.8e-5 (8×8 RGB) and 5.4e-5 (shipped), the others ≤ 7e-6; each planted bug ≥ 0.01.
 * The two near 1e-4 are float32 rounding on ill-conditioned sums (a bias and a bound of s whose gradient is a small
 * difference of large per-pixel terms): ORT alone, the same graph run with its optimisations on and off, puts the
 * same parameters 6.4e-5 and 1.9e-5 apart.
 */
const TOL = 1e-4;
const SHIPPED = "models/default/lab/flow";

/** Both scales' machinery at 8×8 RGB: checkerboards, a squeeze, channel couplings, a factored-out half, a res block. */
const RGB: FlowConfig = { ...DEFAULT_FLOW_CONFIG, imageSize: 8, channels: 3, scales: 2, hidden: [4, 6], resBlocks: 1 };
/**
 * Each config with the spread its weights are scrambled to. Three scales stack 14 couplings: at std 0.15 their
 * exp(s) compound until the gradients are ~1e3 bits/dim per unit and float32 rounding alone puts tape and graph
 * 1e-3 apart (no one parameter stands out; at std 0.1 they agree to 7e-6, at 0.05 to 9e-7), so that one is
 * scrambled less.
 */
const CONFIGS: Record<string, { config: FlowConfig; std: number }> = {
  "8×8 RGB, two scales, one residual block": { config: RGB, std: 0.15 },
  "16×16 RGB, three scales, no residual block": {
    config: { ...DEFAULT_FLOW_CONFIG, imageSize: 16, scales: 3, hidden: [4, 4, 4], resBlocks: 0 },
    std: 0.1,
  },
  "4×4 grey, one scale, two residual blocks, α 0.1": {
    config: { ...DEFAULT_FLOW_CONFIG, imageSize: 4, channels: 1, scales: 1, hidden: [3], resBlocks: 2, alpha: 0.1 },
    std: 0.15,
  },
};

describe("the Real-NVP training graph equals the tfjs tape", () => {
  itWithModel(
    Object.entries(CONFIGS),
    (name) => `${name}: loss and every gradient (≤ ${TOL} relative)`,
    ({ config, std }) => scrambled(config, 1, std),
    async (m, _config, name) => expectEqualToTape(await compare(m), TOL, name),
  );

  it(`the shipped flow (${SHIPPED}, trained, 32×32, two scales): loss and every gradient (≤ ${TOL} relative)`, async () => {
    const { model } = RealNVP.load(SHIPPED);
    try {
      expect(model.config.imageSize).toBe(32);
      expectEqualToTape(await compare(model, {}, 2), TOL, "shipped");
    } finally {
      model.dispose();
    }
  });
});

describe("planted bugs fail the comparison", () => {
  const cases: [string, FlowTrainingGraphOptions["planted"]][] = [
    ["the couplings' log-det dropped", { logDetDropped: true }],
    ["exp(−s) where the log-det counts +s", { scaleSignFlipped: true }],
    ["the masks not alternated (every coupling keeps the same half)", { maskNotAlternated: true }],
    ["the dequantisation noise ignored", { noiseIgnored: true }],
  ];
  itWithModel(
    cases,
    (name) => name,
    () => scrambled(RGB),
    async (m, planted, name) => expectPlantSeen(await compare(m, planted), TOL, name),
  );
});
