// The AAE's native training graph against the tfjs tape it replaces (the task's loss: AAE.terms' reconstruction term
// per pixel value + the weighted generator term + D's loss, under tf.variableGrads, as training/lab/aae-task.ts runs
// it on the tfjs engine): the loss, the logged terms and every parameter's gradient, encoder, decoder and latent
// discriminator alike. The graph is fed the ε and the prior samples AAE.terms draws for the seed. Each player's
// gradient must stay on its own side of the stop-gradients: the plants that let it cross must fail the comparison.
import * as tf from "@tensorflow/tfjs";
import { Tensor } from "onnxruntime-node";
import { beforeAll, describe } from "vitest";
import { blobPictures } from "../../../test/fixtures/blob-pictures";
import { graphErrors, tapeOf } from "../../../test/fixtures/graph-session";
import { expectEqualToTape, expectPlantSeen, itWithModel } from "../../../test/fixtures/tape-equality";
import { selectBackend } from "../../tensor/backend";
import { registerFastGradients } from "../../tensor/gradients";
import { AAE, DEFAULT_AAE_CONFIG, LATENT_DISC_PREFIX, type AAEConfig } from "../aae";
import { pixelDims } from "../vae-config";
import { exportAaeTrainingGraph, type AaeTrainingGraphOptions } from "./aae-training-graph";

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  registerFastGradients(); // the gradients the trainer's tape uses
});

const ROWS = 4;
const SIZE = 16;
const SEED = 777;
/** λ = 50 (the task's) past its warm-up: the generator term's weight per pixel value, λ/D. */
const generatorWeight = (c: AAEConfig) => 50 / pixelDims(c);

/**
 * The AAE with D's curvature drawn at random (it starts at 0, where the quadratic term passes no gradient to z and a
 * graph that dropped it would be seen in the curvature's gradient alone).
 */
function aae(config: AAEConfig): AAE {
  const m = new AAE(config, 3);
  const c = m.params.get(`${LATENT_DISC_PREFIX}curvature`);
  tf.tidy(() => c.assign(tf.randomNormal(c.shape, 0, 0.5, "float32", 9)));
  return m;
}

async function compare(m: AAE, planted: AaeTrainingGraphOptions["planted"] = {}) {
  const pixels = blobPictures(ROWS, SIZE, 5);
  const images = tf.div(tf.tensor4d(pixels, [ROWS, SIZE, SIZE, 3], "int32"), 255) as tf.Tensor4D; // [B, S, S, C] in [0, 1]
  const dims = pixelDims(m.config);
  const weight = generatorWeight(m.config);
  const want = tapeOf(m.params, () => {
    const t = m.terms(images, SEED);
    const rec = tf.div(tf.mean(t.nll), dims) as tf.Scalar;
    return {
      loss: tf.addN([rec, tf.mul(t.generator, weight), t.discriminator]) as tf.Scalar,
      logs: {
        recBpd: rec.dataSync()[0] / Math.LN2,
        gen: t.generator.dataSync()[0],
        disc: t.discriminator.dataSync()[0],
        dAcc: t.discAccuracy.dataSync()[0],
      },
    };
  });
  // The draws AAE.terms made: ε from the seed, the prior samples from seed + 1, both over μ's shape [B, d].
  const draw = (seed: number) => tf.tidy(() => Float32Array.from(tf.randomNormal([ROWS, m.latentDim], 0, 1, "float32", seed).dataSync()));
  const [eps, prior] = [draw(SEED), draw(SEED + 1)];
  tf.dispose(images);

  const g = exportAaeTrainingGraph(m.config, { batch: ROWS, gradients: true, planted });
  const d = m.latentDim;
  const feeds = {
    [g.names.images]: new Tensor("uint8", pixels, [ROWS, SIZE, SIZE, 3]),
    [g.names.eps]: new Tensor("float32", eps, [ROWS, d]),
    [g.names.prior]: new Tensor("float32", prior, [ROWS, d]),
    [g.names.generatorWeight]: new Tensor("float32", Float32Array.of(weight), []),
  };
  return graphErrors(g, m.params, feeds, want);
}

const TOL = 1e-4;

const TINY: AAEConfig = { ...DEFAULT_AAE_CONFIG, imageSize: SIZE, widths: [8, 16], resBlocks: 1, latentDim: 8, discHidden: 16 };
const CONFIGS: Record<string, AAEConfig> = {
  "edge padding, one residual block per stage": TINY,
  "zero padding, three stages, no residual blocks, a wider D": {
    ...TINY,
    widths: [4, 8, 8],
    resBlocks: 0,
    padding: "zero",
    discHidden: 32,
  },
};

describe("the AAE training graph equals the tfjs tape", () => {
  itWithModel(
    Object.entries(CONFIGS),
    (name) => `${name}: loss, recBpd, gen, disc, dAcc and every gradient (≤ ${TOL} relative)`,
    aae,
    async (m, _config, name) => expectEqualToTape(await compare(m), TOL, name),
  );
});

describe("planted bugs fail the comparison", () => {
  const cases: [string, AaeTrainingGraphOptions["planted"]][] = [
    ["the generator term reads D's live weights", { generatorUnfrozen: true }],
    ["D's loss on the codes reads z, not sg[z]", { fakeNotDetached: true }],
    ["every stop-gradient leaks (a plain Identity)", { stopGradientLeaks: true }],
    ["D without its quadratic term", { curvatureDropped: true }],
    ["the adversarial weight ignored", { generatorWeightDropped: true }],
  ];
  itWithModel(
    cases,
    (name) => name,
    () => aae(TINY),
    async (m, planted, name) => expectPlantSeen(await compare(m, planted), TOL, name),
  );
});
