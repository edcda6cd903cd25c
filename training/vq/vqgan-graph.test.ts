// The VQ-GAN's native training graph (lib/model/onnx/vqgan-training-graph.ts) against the tfjs tape it replaces:
// VQModel.forward's loss + GanObjective.terms (./gan.ts) under tf.variableGrads, as the task's loss runs on the tfjs
// engine: the loss, every logged term, every gradient (generator and discriminator), and the adaptive weight λ, on
// a step where λ is measured, one where it is held, one where it is re-measured on schedule and one before the
// generator term is on. The tfjs objective lives in training/ (the graph's reference), hence this test here rather
// than beside the graph in lib/. Then proof that the comparison can tell: each planted bug fails it.
import * as tf from "@tensorflow/tfjs";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { beforeAll, describe, expect, it } from "vitest";
import type { DiscriminatorConfig } from "../../lib/model/discriminator";
import {
  exportVqganTrainingGraph,
  VQGAN_GRAPH_INPUTS,
  VQGAN_LAMBDA,
  type VqganTrainingGraphOptions,
} from "../../lib/model/onnx/vqgan-training-graph";
import type { VQConfig } from "../../lib/model/vq-config";
import { VQModel } from "../../lib/model/vq-model";
import { selectBackend } from "../../lib/tensor/backend";
import { registerFastGradients } from "../../lib/tensor/gradients";
import { blobPictures } from "../../test/fixtures/blob-pictures";
import { expectEqualToTape, expectPlantSeen, tapeErrors } from "../../test/fixtures/tape-equality";
import { tinyVQConfig } from "../../test/fixtures/tiny-vq-config";
import { DEFAULT_GAN_OPTIONS, GanObjective, type GanOptions } from "./gan";

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  registerFastGradients(); // the gradients the trainer's tape uses (MirrorPad's summed, for edge padding)
});

const ROWS = 3;
const SIZE = 16;
/** Two stages: features at two resolutions, a squeeze between them. */
const DISC: DiscriminatorConfig = { channels: 3, widths: [4, 8] };
const TOL = 1e-4;

const toTensor = (pixels: Uint8Array, rows: number) => tf.div(tf.tensor4d(pixels, [rows, SIZE, SIZE, 3], "int32"), 255) as tf.Tensor4D;

interface Gan {
  model: VQModel;
  gan: GanObjective;
  dispose(): void;
}

/** A tokenizer whose EMA codebook was seeded from encoder outputs (its first afterStep), and its GAN objective. */
async function vqgan(config: VQConfig, options: Partial<GanOptions> = {}): Promise<Gan> {
  const model = new VQModel(config, 4);
  const x = toTensor(blobPictures(8, SIZE, 99), 8);
  const f = model.forward(x, { training: true });
  await model.afterStep(f);
  tf.dispose([x, f.reconstruction, f.loss, ...Object.values(f.losses), f.codes, f.latents, f.features]);
  const gan = new GanObjective(model, DISC, { ...DEFAULT_GAN_OPTIONS, start: 0, ...options });
  return { model, gan, dispose: () => model.dispose() };
}

/** One step: the tape's loss, terms, gradients and λ; the graph fed the same batch, codebook and λ schedule. */
async function compare(m: Gan, step: number, planted: VqganTrainingGraphOptions["planted"] = {}) {
  const { model, gan } = m;
  const pixels = blobPictures(ROWS, SIZE, 5);
  const images = toTensor(pixels, ROWS);
  const plan = gan.lambdaPlan(step); // before the tape, which re-measures λ where the plan says so
  const vars = [...model.params.trainable()];
  let logs: Record<string, tf.Scalar> = {};
  const { value, grads } = tf.variableGrads(
    () => {
      const f = model.forward(images, { training: true });
      const t = gan.terms(images, f, step);
      logs = Object.fromEntries(Object.entries({ ...f.losses, ...t.logs }).map(([k, v]) => [k, tf.keep(v)]));
      return tf.add(f.loss, t.loss) as tf.Scalar;
    },
    vars.map(([, v]) => v),
  );
  const want = {
    loss: value.dataSync()[0],
    logs: Object.fromEntries(Object.entries(logs).map(([k, v]) => [k, v.dataSync()[0]])),
    grads: new Map(vars.map(([name, v]) => [name, grads[v.name].dataSync() as Float32Array])),
  };
  const lambda = gan.heldLambda;
  tf.dispose([images, value, ...Object.values(grads), ...Object.values(logs)]);

  const g = exportVqganTrainingGraph(model.config, { batch: ROWS, gradients: true, gan: gan.options, discriminator: DISC, planted });
  const session = await InferenceSession.create(g.bytes, { graphOptimizationLevel: "all" });
  try {
    const scalar = (v: number) => new Tensor("float32", Float32Array.of(v), []);
    const feeds: Record<string, Tensor> = {
      [g.names.images]: new Tensor("uint8", pixels, [ROWS, SIZE, SIZE, 3]),
      [VQGAN_GRAPH_INPUTS.on]: scalar(plan.on ? 1 : 0),
      [VQGAN_GRAPH_INPUTS.remeasure]: scalar(plan.remeasure ? 1 : 0),
      [VQGAN_GRAPH_INPUTS.lambdaHeld]: scalar(plan.held),
    };
    for (const p of [...g.params, g.names.codebook!]) {
      const v = model.params.get(p);
      feeds[p] = new Tensor("float32", Float32Array.from(v.dataSync()), v.shape);
    }
    const out = await session.run(feeds);
    expect(Object.keys(g.names.logs).sort()).toEqual(Object.keys(want.logs).sort());
    expect(Object.keys(g.names.grads).sort()).toEqual([...want.grads.keys()].sort());
    expect(g.params.filter((p) => p.startsWith("disc.")).length).toBe(2 * (DISC.widths.length + 1));
    const got = (out[g.names.gather[VQGAN_LAMBDA]].data as Float32Array)[0];
    return {
      ...tapeErrors((name) => out[name].data as Float32Array, g.names, want),
      lambda: Math.abs(got - lambda) / Math.max(lambda, 1e-6),
      plan,
      want: lambda,
    };
  } finally {
    await session.release();
  }
}

const EDGE = tinyVQConfig({ imageSize: SIZE });
const ZERO = tinyVQConfig({ imageSize: SIZE, padding: "zero", resBlocks: 2 });
/** The λ held from an earlier measurement, unlike any this batch would give. */
const HELD = 0.37;

interface Case {
  config: VQConfig;
  options?: Partial<GanOptions>;
  step: number;
  held?: number;
  expect: { on: boolean; remeasure: boolean };
}
const CASES: Record<string, Case> = {
  // Step 3 is no multiple of lambdaEvery: λ is measured because none is held yet.
  "the first step the generator term is on (step 3 of 3): λ measured (edge padding, the shipped recipe)": {
    config: EDGE,
    options: { start: 3 },
    step: 3,
    expect: { on: true, remeasure: true },
  },
  "λ held between measurements (step 13 of every 10)": { config: EDGE, step: 13, held: HELD, expect: { on: true, remeasure: false } },
  "λ re-measured on schedule (step 20), zero padding, two residual blocks": {
    config: ZERO,
    step: 20,
    held: HELD,
    expect: { on: true, remeasure: true },
  },
  "before the generator term starts (step 5 of 100): D and feature matching only": {
    config: EDGE,
    options: { start: 100 },
    step: 5,
    expect: { on: false, remeasure: false },
  },
};

async function run(c: Case, planted: VqganTrainingGraphOptions["planted"] = {}) {
  const m = await vqgan(c.config, c.options);
  try {
    if (c.held !== undefined) m.gan.hold(c.held);
    return await compare(m, c.step, planted);
  } finally {
    m.dispose();
  }
}

describe("the VQ-GAN training graph equals the tfjs tape", () => {
  for (const [name, c] of Object.entries(CASES))
    it(`${name}: loss, terms, every gradient and λ (≤ ${TOL} relative)`, async () => {
      const e = await run(c);
      expect({ on: e.plan.on, remeasure: e.plan.remeasure }).toEqual(c.expect);
      console.log(`${name}: λ ${e.want.toPrecision(4)} (${e.lambda.toExponential(2)} apart)`);
      expectEqualToTape(e, TOL, name);
      expect(e.lambda).toBeLessThan(TOL);
      if (!c.expect.remeasure) expect(e.want).toBe(c.held ?? 0);
      else expect(e.want).not.toBe(c.held ?? 0);
    });
});

describe("planted bugs fail the comparison", () => {
  const first = CASES["the first step the generator term is on (step 3 of 3): λ measured (edge padding, the shipped recipe)"];
  const held = CASES["λ held between measurements (step 13 of every 10)"];
  const cases: [string, Case, VqganTrainingGraphOptions["planted"]][] = [
    ["the generator's pass reads D's live weights", first, { generatorUnfrozen: true }],
    ["D's pass reads the reconstructions without sg", first, { fakeNotDetached: true }],
    ["feature matching's real side not stopped", first, { realFeaturesNotDetached: true }],
    ["λ re-measured every step (the held λ ignored)", held, { heldLambdaIgnored: true }],
    ["λ's reconstruction side without the perceptual term", first, { lambdaWithoutPerceptual: true }],
  ];
  for (const [name, c, planted] of cases)
    it(name, async () => {
      expectPlantSeen(await run(c, planted), TOL, name);
    });
});
