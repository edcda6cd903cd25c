// The AAE's native training graph against the tfjs tape it replaces (the task's loss: AAE.terms' reconstruction term
// per pixel value + the weighted generator term + D's loss, under tf.variableGrads, as training/lab/aae-task.ts runs
// it on the tfjs engine): the loss, the logged terms and every parameter's gradient, encoder, decoder and latent
// discriminator alike. The graph is fed the ε and the prior samples AAE.terms draws for the seed. Each player's
// gradient must stay on its own side of the stop-gradients: the plants that let it cross must fail the comparison.
// The adaptive graph also against AAE.adaptiveWeight: the λ it uses (measured where told to, held otherwise), and
// through it the loss and every gradient; plants in λ's definition (layer, δ, ratio, the held λ) must fail.
import * as tf from "@tensorflow/tfjs";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { beforeAll, describe, expect } from "vitest";
import { blobPictures } from "../../../test/fixtures/blob-pictures";
import { graphErrors, tapeOf } from "../../../test/fixtures/graph-session";
import { expectEqualToTape, expectPlantSeen, itWithModel, tapeErrors } from "../../../test/fixtures/tape-equality";
import { selectBackend } from "../../tensor/backend";
import { registerFastGradients } from "../../tensor/gradients";
import { AAE, DEFAULT_AAE_CONFIG, ENCODER_LAST_LAYER, LATENT_DISC_PREFIX, type AAEConfig } from "../aae";
import { pixelDims } from "../vae-config";
import { AAE_GRAPH_INPUTS, AAE_LAMBDA, exportAaeTrainingGraph, type AaeTrainingGraphOptions } from "./aae-training-graph";

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

/** The adaptive weight at a step: the factor·ramp fed, whether λ is measured afresh, the λ held otherwise. */
interface Adaptive {
  scale: number;
  remeasure: boolean;
  held: number;
}

/**
 * The tape of the task's loss with the generator term weighted by `weight` (per pixel value), its logs as the task
 * logs them (advLambda: `lambda`, when given), and the graph's feeds for the same batch and draws.
 */
function tapeAndFeeds(m: AAE, weight: (images: tf.Tensor4D) => { weight: number; lambda?: number }) {
  const pixels = blobPictures(ROWS, SIZE, 5);
  const images = tf.div(tf.tensor4d(pixels, [ROWS, SIZE, SIZE, 3], "int32"), 255) as tf.Tensor4D; // [B, S, S, C] in [0, 1]
  const dims = pixelDims(m.config);
  const w = weight(images); // before the tape, as the task's loss measures λ before it weights the term
  const want = tapeOf(m.params, () => {
    const t = m.terms(images, SEED);
    const rec = m.reconstruction(t);
    return {
      loss: tf.addN([rec, tf.mul(t.generator, w.weight), t.discriminator]) as tf.Scalar,
      logs: {
        recBpd: rec.dataSync()[0] / Math.LN2,
        gen: t.generator.dataSync()[0],
        disc: t.discriminator.dataSync()[0],
        dAcc: t.discAccuracy.dataSync()[0],
        advWeight: w.weight * dims,
        ...(w.lambda === undefined ? {} : { [AAE_LAMBDA]: w.lambda }),
      },
    };
  });
  // The draws AAE.terms made: ε from the seed, the prior samples from seed + 1, both over μ's shape [B, d].
  const draw = (seed: number) => tf.tidy(() => Float32Array.from(tf.randomNormal([ROWS, m.latentDim], 0, 1, "float32", seed).dataSync()));
  const [eps, prior] = [draw(SEED), draw(SEED + 1)];
  tf.dispose(images);
  const d = m.latentDim;
  const feeds = {
    [AAE_GRAPH_INPUTS.images]: new Tensor("uint8", pixels, [ROWS, SIZE, SIZE, 3]),
    [AAE_GRAPH_INPUTS.eps]: new Tensor("float32", eps, [ROWS, d]),
    [AAE_GRAPH_INPUTS.prior]: new Tensor("float32", prior, [ROWS, d]),
  };
  return { want, feeds, lambda: w.lambda };
}

const scalar = (v: number) => new Tensor("float32", Float32Array.of(v), []);

async function compare(m: AAE, planted: AaeTrainingGraphOptions["planted"] = {}) {
  const weight = generatorWeight(m.config);
  const { want, feeds } = tapeAndFeeds(m, () => ({ weight }));
  const g = exportAaeTrainingGraph(m.config, { batch: ROWS, gradients: true, planted });
  return graphErrors(g, m.params, { ...feeds, [g.names.generatorWeight]: scalar(weight) }, want);
}

/**
 * The adaptive graph against the tape weighted by the λ AAE.adaptiveWeight measures (or the one held), times the
 * fed factor; also the λ the graph hands back against that λ (relative).
 */
async function compareAdaptive(m: AAE, a: Adaptive, planted: AaeTrainingGraphOptions["planted"] = {}) {
  const { want, feeds, lambda } = tapeAndFeeds(m, (images) => {
    const l = a.remeasure ? m.adaptiveWeight(images, SEED) : a.held;
    return { weight: a.scale * l, lambda: l };
  });
  const g = exportAaeTrainingGraph(m.config, { batch: ROWS, gradients: true, adaptive: true, planted });
  expect(g.names.gather).toEqual({ [AAE_LAMBDA]: g.names.logs[AAE_LAMBDA] });
  const session = await InferenceSession.create(g.bytes, { graphOptimizationLevel: "all" });
  try {
    const all: Record<string, Tensor> = {
      ...feeds,
      [g.names.generatorWeight]: scalar(a.scale),
      [g.names.remeasure!]: scalar(a.remeasure ? 1 : 0),
      [g.names.lambdaHeld!]: scalar(a.held),
    };
    for (const p of g.params) {
      const v = m.params.get(p);
      all[p] = new Tensor("float32", Float32Array.from(v.dataSync()), v.shape);
    }
    const out = await session.run(all);
    expect(Object.keys(g.names.grads).sort()).toEqual([...want.grads.keys()].sort());
    const got = (out[g.names.gather![AAE_LAMBDA]].data as Float32Array)[0];
    return {
      ...tapeErrors((name) => out[name].data as Float32Array, g.names, want),
      lambda: Math.abs(got - lambda!) / Math.max(lambda!, 1e-6),
      want: lambda!,
    };
  } finally {
    await session.release();
  }
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
  "the discretised logistic likelihood": { ...TINY, likelihood: "logistic" },
};

describe("the AAE training graph equals the tfjs tape", () => {
  itWithModel(
    Object.entries(CONFIGS),
    (name) => `${name}: loss, recBpd, gen, disc, dAcc, advWeight and every gradient (≤ ${TOL} relative)`,
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

/** The λ held from an earlier measurement, unlike any this batch would give. */
const HELD = 0.37;

/**
 * D all but indifferent (its output layer and curvature scaled down), so ‖∇_W L_G‖ is small beside δ and a λ
 * without δ, or with δ in the wrong place, is another λ.
 */
function indifferent(config: AAEConfig): AAE {
  const m = aae(config);
  for (const name of ["out.w", "out.b", "curvature"]) {
    const v = m.params.get(`${LATENT_DISC_PREFIX}${name}`);
    tf.tidy(() => v.assign(tf.mul(v, 1e-4)));
  }
  return m;
}

interface AdaptiveCase {
  config: AAEConfig;
  make: (c: AAEConfig) => AAE;
  adaptive: Adaptive;
}
const ADAPTIVE: Record<string, AdaptiveCase> = {
  "λ measured (none held), the generator term half ramped in": {
    config: TINY,
    make: aae,
    adaptive: { scale: 0.5, remeasure: true, held: 0 },
  },
  "λ held between measurements": { config: TINY, make: aae, adaptive: { scale: 1, remeasure: false, held: HELD } },
  "λ re-measured, zero padding, three stages, a wider D": {
    config: CONFIGS["zero padding, three stages, no residual blocks, a wider D"],
    make: aae,
    adaptive: { scale: 2, remeasure: true, held: HELD },
  },
  "λ measured where δ matters (D all but indifferent)": {
    config: TINY,
    make: indifferent,
    adaptive: { scale: 1, remeasure: true, held: 0 },
  },
};

describe("the adaptive AAE training graph equals the tfjs tape and AAE.adaptiveWeight", () => {
  itWithModel(
    Object.entries(ADAPTIVE),
    (name) => `${name}: loss, logs, every gradient and λ (≤ ${TOL} relative)`,
    (c) => c.make(c.config),
    async (m, c, name) => {
      const e = await compareAdaptive(m, c.adaptive);
      console.log(`${name}: λ ${e.want.toPrecision(4)} (${e.lambda.toExponential(2)} apart)`);
      expectEqualToTape(e, TOL, name);
      expect(e.lambda).toBeLessThan(TOL);
      if (c.adaptive.remeasure) expect(e.want).not.toBe(c.adaptive.held);
      else expect(e.want).toBe(c.adaptive.held);
    },
  );
});

describe("planted bugs in the adaptive λ fail the comparison", () => {
  const [measured, held, , delta] = Object.values(ADAPTIVE);
  const cases: [string, [AdaptiveCase, AaeTrainingGraphOptions["planted"]]][] = [
    ["λ on the encoder's layer below its last", [measured, { lambdaLayer: "vae.enc.1.res0.conv2.w" }]],
    ["λ on the last layer's bias, not its weights", [measured, { lambdaLayer: "vae.enc.head.b" }]],
    ["λ re-measured every step (the held λ ignored)", [held, { heldLambdaIgnored: true }]],
    ["λ without δ", [delta, { deltaDropped: true }]],
    ["λ upside down, ‖∇ L_G‖ / (‖∇ L_rec‖ + δ)", [measured, { lambdaInverted: true }]],
  ];
  itWithModel(
    cases,
    (name) => name,
    ([c]) => c.make(c.config),
    async (m, [c, planted], name) => expectPlantSeen(await compareAdaptive(m, c.adaptive, planted), TOL, name),
  );
});

/** The name the λ's layer is read by: a rename of the VAE's head would otherwise move λ silently. */
describe("the encoder's last layer", () => {
  itWithModel(
    [["TINY", TINY]],
    () => "is the dense head that gives μ and log σ², [s·s·C_last, 2d]",
    aae,
    async (m) => {
      expect(m.params.get(ENCODER_LAST_LAYER).shape).toEqual([4 * 4 * 16, 2 * TINY.latentDim]);
    },
  );
});
