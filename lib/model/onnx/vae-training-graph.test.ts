// The VAE's native training graph against the tfjs tape it replaces (the task's loss, mean of VAE.terms' negElbo per
// pixel value under tf.variableGrads, as training/lab/vae-task.ts runs it on the tfjs engine): the loss, the logged
// bound and KL, and every parameter's gradient, for each likelihood, on tiny configs. The graph is fed the ε that
// VAE.terms draws for the seed (tf.randomNormal, the same seeded stream) and the same KL weight. Then proof that the
// comparison can tell: each planted bug must fail it.
import * as tf from "@tensorflow/tfjs";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { beforeAll, describe, expect, it } from "vitest";
import { expectEqualToTape, expectPlantSeen, itWithModel, tapeErrors } from "../../../test/fixtures/tape-equality";
import { mulberry32 } from "../../data/rng";
import { selectBackend } from "../../tensor/backend";
import { registerFastGradients } from "../../tensor/gradients";
import { VAE } from "../vae";
import { BIN_WIDTH, DEFAULT_VAE_CONFIG, pixelDims, type VAEConfig } from "../vae-config";
import { exportVaeTrainingGraph, type VaeTrainingGraphOptions } from "./vae-training-graph";

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  registerFastGradients(); // the gradients the trainer's tape uses
});

const ROWS = 4;
const SIZE = 16;
const SEED = 4242;
/** Mid-warm-up, so a graph that ignores the weight (or the KL) is seen. */
const KL_WEIGHT = 0.3;

/**
 * A disc on a plain background as uint8 [B, S, S, 3], with ±6 % grain: white backgrounds (level 255) on even rows and
 * a disc with a zero channel, so the logistic's two edge bins are in every batch, as they are in the emoji.
 */
function pictures(rows: number, seed: number, size = SIZE): Uint8Array {
  const r = mulberry32(seed);
  const out = new Uint8Array(rows * size * size * 3);
  for (let b = 0; b < rows; b++) {
    const [cx, cy, rad] = [r() * size, r() * size, 3 + r() * (size / 3)];
    const fg = [0, r() * 255, 40 + r() * 200];
    const bg = b % 2 === 0 ? [255, 255, 255] : [r() * 255, r() * 255, r() * 255];
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        const inside = (x - cx) ** 2 + (y - cy) ** 2 < rad * rad;
        const plain = !inside && b % 2 === 0;
        for (let c = 0; c < 3; c++) {
          const v = inside ? fg[c] : bg[c];
          out[((b * size + y) * size + x) * 3 + c] = plain || v === 0 ? v : Math.min(255, Math.round(v * (0.94 + 0.12 * r())));
        }
      }
  }
  return out;
}

interface Errors {
  loss: number;
  logs: number;
  grads: number;
  worst: string;
}

/** The tape's loss and logs as training/lab/vae-task.ts computes them. */
function tapeStep(m: VAE, images: tf.Tensor4D) {
  const dims = pixelDims(m.config);
  const t = m.terms(images, SEED, KL_WEIGHT);
  return {
    loss: tf.div(tf.mean(t.negElbo), dims) as tf.Scalar,
    bpd: tf.div(tf.mean(tf.add(t.nll, t.kl)), dims * Math.LN2).dataSync()[0],
    kl: tf.mean(t.kl).dataSync()[0],
  };
}

async function compare(m: VAE, planted: VaeTrainingGraphOptions["planted"] = {}): Promise<Errors> {
  const size = m.config.imageSize;
  const pixels = pictures(ROWS, 5, size);
  const images = tf.div(tf.tensor4d(pixels, [ROWS, size, size, 3], "int32"), 255) as tf.Tensor4D; // [B, S, S, C] in [0, 1]
  const vars = [...m.params.trainable()];
  let logs = { bpd: 0, kl: 0 };
  const { value, grads } = tf.variableGrads(
    () => {
      const s = tapeStep(m, images);
      logs = { bpd: s.bpd, kl: s.kl };
      return s.loss;
    },
    vars.map(([, v]) => v),
  );
  const want = {
    loss: value.dataSync()[0],
    logs,
    grads: new Map(vars.map(([name, v]) => [name, grads[v.name].dataSync() as Float32Array])),
  };
  // The ε VAE.terms drew: tf.randomNormal over μ's shape [B, d] from the same seed.
  const epsT = tf.randomNormal([ROWS, m.latentDim], 0, 1, "float32", SEED);
  const eps = Float32Array.from(epsT.dataSync());
  tf.dispose([images, value, epsT, ...Object.values(grads)]);

  const g = exportVaeTrainingGraph(m.config, { batch: ROWS, gradients: true, planted });
  const session = await InferenceSession.create(g.bytes, { graphOptimizationLevel: "all" });
  try {
    const feeds: Record<string, Tensor> = {
      [g.names.images]: new Tensor("uint8", pixels, [ROWS, size, size, 3]),
      [g.names.eps]: new Tensor("float32", eps, [ROWS, m.latentDim]),
      [g.names.klWeight]: new Tensor("float32", Float32Array.of(KL_WEIGHT), []),
    };
    for (const p of g.params) {
      const v = m.params.get(p);
      feeds[p] = new Tensor("float32", Float32Array.from(v.dataSync()), v.shape);
    }
    const out = await session.run(feeds);
    expect(Object.keys(g.names.grads).sort()).toEqual([...want.grads.keys()].sort());
    return tapeErrors((name) => out[name].data as Float32Array, g.names, want);
  } finally {
    await session.release();
  }
}

const TOL = 1e-4;
const SHIPPED = "models/default/lab/vae";

/**
 * The model with its encoder head ×8: fresh, the head is scaled to start q(z|x) at the prior (KL ≈ 0), where a
 * wrong KL term would hardly show; this puts μ and log σ² where a trained model has them (the shipped VAE's KL is
 * ~218 nats per image).
 */
function vaeAwayFromPrior(config: VAEConfig, gain = 8): VAE {
  const m = new VAE(config, 3);
  const w = m.params.get("vae.enc.head.w");
  tf.tidy(() => w.assign(tf.mul(w, gain)));
  return m;
}

const TINY: VAEConfig = { ...DEFAULT_VAE_CONFIG, imageSize: SIZE, widths: [8, 16], resBlocks: 1, latentDim: 8 };
/**
 * The logistic at a starting spread where Δ = δ/s straddles 0.01, so both branches of log(1 − e^−Δ) are taken
 * (checked below); the shipped recipe's initPixelStd 1 starts every pixel on the series branch.
 */
const LOGISTIC: VAEConfig = { ...TINY, likelihood: "logistic", initPixelStd: 0.7 };
/**
 * A KL that weighs in the loss (32 latents, the head ×24: ~0.4 % of the NLL, where the shipped VAE's is 2.4 %, 218 of
 * 8,981 nats): with 8 latents at ×8 it was ~0.08 %, and leaving it out moved the loss by only 2e-4 relative.
 */
const KL_HEAVY: VAEConfig = { ...TINY, likelihood: "logistic", initPixelStd: 0.7, latentDim: 32 };
const KL_HEAVY_GAIN = 24;
const CONFIGS: Record<string, VAEConfig> = {
  "logistic (the shipped likelihood), edge padding, one residual block per stage": LOGISTIC,
  "logistic, initPixelStd 1 (the shipped recipe), three stages, zero padding": {
    ...TINY,
    likelihood: "logistic",
    widths: [4, 8, 8],
    padding: "zero",
  },
  "gaussian-learned, no residual blocks": { ...TINY, likelihood: "gaussian-learned", resBlocks: 0 },
  "gaussian-floored, logVarGain 2": { ...TINY, likelihood: "gaussian-floored", logVarGain: 2 },
  "gaussian-fixed": { ...TINY, likelihood: "gaussian-fixed" },
};

describe("the VAE training graph equals the tfjs tape", () => {
  itWithModel(
    Object.entries(CONFIGS),
    (name) => `${name}: loss, bpd, kl and every gradient (≤ ${TOL} relative)`,
    vaeAwayFromPrior,
    async (m, _config, name) => expectEqualToTape(await compare(m), TOL, name),
  );

  it(`a KL-heavy logistic VAE (32 latents, encoder head ×${KL_HEAVY_GAIN}): loss, bpd, kl and every gradient (≤ ${TOL} relative)`, async () => {
    const m = vaeAwayFromPrior(KL_HEAVY, KL_HEAVY_GAIN);
    try {
      expectEqualToTape(await compare(m), TOL, "KL-heavy");
    } finally {
      m.dispose();
    }
  });

  it(`the shipped lab VAE (${SHIPPED}, trained, logistic, 32×32): loss, bpd, kl and every gradient (≤ ${TOL} relative)`, async () => {
    // Where training took it: small scales (on val emoji Δ = δ/s runs from 0.015 to 4.9, all on the direct branch
    // of log(1 − e^−Δ)), 128 latents and a val KL of 218 nats per image (its manifest).
    const { model } = VAE.load(SHIPPED);
    try {
      expect(model.config.likelihood).toBe("logistic");
      expectEqualToTape(await compare(model), TOL, "shipped");
    } finally {
      model.dispose();
    }
  });

  it("the logistic case takes both branches of log(1 − e^−Δ) (Δ = δ/s below and above 0.01)", () => {
    const m = vaeAwayFromPrior(LOGISTIC);
    try {
      const delta = tf.tidy(() => {
        const images = tf.div(tf.tensor4d(pictures(ROWS, 5), [ROWS, SIZE, SIZE, 3], "int32"), 255) as tf.Tensor4D; // [B, S, S, C]
        const z = tf.add(m.encode(images).mu, tf.randomNormal([ROWS, m.latentDim], 0, 1, "float32", SEED)) as tf.Tensor2D;
        const logScale = tf.sub(tf.mul(0.5, m.decodeDistribution(z).logVar), Math.log(Math.PI / Math.sqrt(3)));
        return tf.mul(tf.exp(tf.neg(logScale)), BIN_WIDTH).dataSync() as Float32Array;
      });
      const below = delta.filter((d) => d < 0.01).length / delta.length;
      console.log(`logistic: Δ < 0.01 for ${(100 * below).toFixed(1)} % of the pixel values`);
      expect(below).toBeGreaterThan(0.05);
      expect(below).toBeLessThan(0.95);
    } finally {
      m.dispose();
    }
  });
});

describe("planted bugs fail the comparison", () => {
  const cases: [string, VAEConfig, VaeTrainingGraphOptions["planted"]][] = [
    ["the KL term dropped", KL_HEAVY, { klDropped: true }],
    ["the KL warm-up weight ignored", KL_HEAVY, { klWeightDropped: true }],
    ["the encoder's log σ² read as σ", LOGISTIC, { headAsSigma: true }],
    ["no gradient through σ ⊙ ε", LOGISTIC, { noiseStopped: true }],
    ["the logistic's edge bins forgotten", LOGISTIC, { binEdgesForgotten: true }],
    ["the decoder's mean left on [−1, 1]", CONFIGS["gaussian-learned, no residual blocks"], { meanUnshifted: true }],
    ["zero padding where the model pads with its border", LOGISTIC, { zeroPadding: true }],
  ];
  itWithModel(
    cases.map(([name, config, planted]) => [name, { config, planted }] as const),
    (name) => name,
    ({ config }) => vaeAwayFromPrior(config, config === KL_HEAVY ? KL_HEAVY_GAIN : undefined),
    async (m, { planted }, name) => expectPlantSeen(await compare(m, planted), TOL, name),
  );
});
