// The dVAE's native training graph (lib/model/onnx/vq-training-graph.ts with ./gumbel-nodes.ts) against the tfjs
// tape it replaces (VQModel.forward under tf.variableGrads, as the task's loss runs on the tfjs engine, with the
// Gumbel noise of one seed): the loss, each logged term and every trainable parameter's gradient, on a tiny config
// with straight-through hard samples, the soft relaxation (the default) and zero padding. The graph is fed the
// uniform draw tf.randomUniform gives gumbelSoftmax for that seed. Then proof that the comparison can tell: each
// planted bug must fail it.
import * as tf from "@tensorflow/tfjs";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { beforeAll, describe, expect } from "vitest";
import { blobPictures } from "../../../test/fixtures/blob-pictures";
import { expectEqualToTape, expectPlantSeen, itWithModel, tapeErrors } from "../../../test/fixtures/tape-equality";
import { tinyVQConfig } from "../../../test/fixtures/tiny-vq-config";
import { selectBackend } from "../../tensor/backend";
import { registerFastGradients } from "../../tensor/gradients";
import type { VQConfig } from "../vq-config";
import { VQModel } from "../vq-model";
import { exportVqTrainingGraph, type VqTrainingGraphOptions } from "./vq-training-graph";

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  registerFastGradients(); // the gradients the trainer's tape uses
});

const ROWS = 3;
const SIZE = 16;

/** Smooth random pictures as uint8 [B, S, S, 3] (test/fixtures/blob-pictures.ts). */
const pictures = (rows: number, seed: number) => blobPictures(rows, SIZE, seed);

/**
 * One step's quantizer settings: mid-anneal τ and noise scale (the noise then still changes which code some positions
 * sample), a KL weight large enough to move the gradients, a fixed noise seed.
 */
const STEP = { temperature: 0.7, noiseScale: 0.6, klWeight: 0.05, noiseSeed: 12345 };

interface Errors {
  loss: number;
  logs: number;
  /** The worst parameter's gradient error, each relative to its own largest value, and which parameter. */
  grads: number;
  worst: string;
}

async function compare(m: VQModel, planted: VqTrainingGraphOptions["planted"] = {}): Promise<Errors> {
  const pixels = pictures(ROWS, 5);
  const images = tf.div(tf.tensor4d(pixels, [ROWS, SIZE, SIZE, 3], "int32"), 255) as tf.Tensor4D; // [B, S, S, C] in [0, 1]
  const vars = [...m.params.trainable()];
  let logs: Record<string, tf.Scalar> = {};
  const { value, grads } = tf.variableGrads(
    () => {
      const f = m.forward(images, { training: true, ...STEP });
      logs = Object.fromEntries(Object.entries(f.losses).map(([k, v]) => [k, tf.keep(v)]));
      return f.loss;
    },
    vars.map(([, v]) => v),
  );
  const want = {
    loss: value.dataSync()[0],
    logs: Object.fromEntries(Object.entries(logs).map(([k, v]) => [k, v.dataSync()[0]])),
    grads: new Map(vars.map(([name, v]) => [name, grads[v.name].dataSync() as Float32Array])),
  };
  tf.dispose([images, value, ...Object.values(grads), ...Object.values(logs)]);

  const c = m.config;
  const rows = ROWS * (c.imageSize / c.downsample) ** 2;
  // What gumbelSoftmax draws for this seed: tf.randomUniform's stream runs in JS, the same on every backend.
  const u = tf.randomUniform([rows, c.codebookSize], 0, 1, "float32", STEP.noiseSeed);
  const noise = u.dataSync() as Float32Array;
  u.dispose();
  const g = exportVqTrainingGraph(c, { batch: ROWS, gradients: true, planted });
  const session = await InferenceSession.create(g.bytes, { graphOptimizationLevel: "all" });
  try {
    const feeds: Record<string, Tensor> = {
      [g.names.images]: new Tensor("uint8", pixels, [ROWS, SIZE, SIZE, 3]),
      [g.names.noise!]: new Tensor("float32", noise, [rows, c.codebookSize]),
      [g.names.noiseScale!]: new Tensor("float32", Float32Array.of(STEP.noiseScale), []),
      [g.names.temperature!]: new Tensor("float32", Float32Array.of(STEP.temperature), []),
      [g.names.klWeight!]: new Tensor("float32", Float32Array.of(STEP.klWeight), []),
    };
    for (const p of g.params) {
      const v = m.params.get(p);
      feeds[p] = new Tensor("float32", Float32Array.from(v.dataSync()), v.shape);
    }
    const out = await session.run(feeds);
    const read = (name: string) => out[name].data as Float32Array;
    expect(Object.keys(g.names.logs).sort()).toEqual(Object.keys(want.logs).sort());
    expect(Object.keys(g.names.grads).sort()).toEqual([...want.grads.keys()].sort());
    return tapeErrors(read, g.names, want);
  } finally {
    await session.release();
  }
}

const TOL = 1e-4;

const HARD = tinyVQConfig({ imageSize: SIZE, kind: "dvae", hardGumbel: true });
const CONFIGS: Record<string, VQConfig> = {
  "dVAE, straight-through hard samples, edge padding": HARD,
  "dVAE, soft relaxation (the default)": tinyVQConfig({ imageSize: SIZE, kind: "dvae", hardGumbel: false }),
  "dVAE, zero padding, two residual blocks, no usage term": tinyVQConfig({
    imageSize: SIZE,
    kind: "dvae",
    padding: "zero",
    resBlocks: 2,
    usageWeight: 0,
  }),
};

describe("the dVAE training graph equals the tfjs tape", () => {
  itWithModel(
    Object.entries(CONFIGS),
    (name) => `${name}: loss, terms and every gradient (≤ ${TOL} relative)`,
    (config) => new VQModel(config, 4),
    async (m, _config, name) => expectEqualToTape(await compare(m), TOL, name),
  );
});

describe("planted bugs fail the comparison", () => {
  const cases: [string, VqTrainingGraphOptions["planted"]][] = [
    ["no straight-through: the decoder reads the one-hot", { noStraightThrough: true }],
    ["the straight-through's stop-gradient on the other term", { straightThroughFlipped: true }],
    ["every stop-gradient leaks", { stopGradientLeaks: true }],
    ["the KL's warm-up weight dropped", { klWeightDropped: true }],
    ["the KL's sign flipped", { klSignFlipped: true }],
    ["the usage term dropped", { usageDropped: true }],
    ["τ ignored", { temperatureDropped: true }],
    ["the noise's scale ignored (full Gumbel noise)", { noiseScaleDropped: true }],
  ];
  itWithModel(
    cases,
    (name) => name,
    () => new VQModel(HARD, 4),
    async (m, planted, name) => expectPlantSeen(await compare(m, planted), TOL, name),
  );
});
