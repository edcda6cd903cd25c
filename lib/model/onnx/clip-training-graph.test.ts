// CLIP's native training graph against the tfjs tape it replaces (Clip.loss under tf.variableGrads, as the task's
// loss runs on the tfjs engine): the loss, its two directions, the logit scale and every parameter's gradient, on
// a tiny config with perturbed weights (so gains and biases are not at their 1/0 init), captions of every length
// (one filling all T positions, so its [EOS] is the appended slot) and a positive-pair mask with off-diagonal
// entries. Then proof that the comparison can tell: each planted bug must fail it.
import * as tf from "@tensorflow/tfjs";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { beforeAll, describe, expect } from "vitest";
import { expectEqualToTape, expectPlantSeen, itWithModel, tapeErrors } from "../../../test/fixtures/tape-equality";
import { mulberry32 } from "../../data/rng";
import { selectBackend } from "../../tensor/backend";
import { registerFastGradients } from "../../tensor/gradients";
import { Clip } from "../clip";
import { DEFAULT_CLIP_CONFIG, type ClipConfig } from "../clip-config";
import { exportClipTrainingGraph, type ClipTrainingGraphOptions } from "./clip-training-graph";

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  registerFastGradients(); // the gradients the trainer's tape uses
});

const CONFIG: ClipConfig = {
  ...DEFAULT_CLIP_CONFIG,
  imageSize: 8,
  imageWidths: [4, 8],
  resBlocks: 1,
  textVocab: 12,
  textLen: 5,
  nLayer: 2,
  nHead: 2,
  nEmbd: 16,
  embedDim: 8,
};
const ROWS = 5;

interface Batch {
  pixels: Uint8Array;
  text: Int32Array;
  /** Hard negatives [ROWS · T] (one per row), or none. */
  negatives?: Int32Array;
  /** [ROWS, ROWS], or [ROWS, 2·ROWS] with negatives. */
  positives: Float32Array;
}

/**
 * Captions of lengths 1..T (right-padded with 0), rows 1 and 3 sharing a caption, and caption 2 also describing
 * image 0 (an off-diagonal positive that is not a duplicate). `full`: one caption fills all T positions.
 */
function batch(full: boolean, seed: number): Batch {
  const r = mulberry32(seed);
  const { textLen: T, imageSize: s, channels: ch, textVocab: v } = CONFIG;
  const pixels = Uint8Array.from({ length: ROWS * s * s * ch }, () => Math.floor(r() * 256));
  const lengths = full ? [T, 2, 3, 2, 1] : [4, 2, 3, 2, 1];
  const text = new Int32Array(ROWS * T);
  lengths.forEach((n, row) => {
    for (let k = 0; k < n; k++) text[row * T + k] = 1 + Math.floor(r() * (v - 1));
  });
  text.copyWithin(3 * T, 1 * T, 2 * T);
  const positives = new Float32Array(ROWS * ROWS);
  for (let i = 0; i < ROWS; i++) positives[i * ROWS + i] = 1;
  positives[1 * ROWS + 3] = positives[3 * ROWS + 1] = 1;
  positives[0 * ROWS + 2] = 1;
  return { pixels, text, positives };
}

/**
 * The batch above with one hard negative per row: random captions, except that row 0's negative is row 4's caption
 * (a "negative" that describes another image of the batch is a positive for it, as captionPositives marks it).
 */
function withNegatives(b: Batch, seed: number): Batch {
  const r = mulberry32(seed);
  const { textLen: T, textVocab: v } = CONFIG;
  const negatives = new Int32Array(ROWS * T);
  for (let row = 1; row < ROWS; row++) for (let k = 0; k < 1 + (row % T); k++) negatives[row * T + k] = 1 + Math.floor(r() * (v - 1));
  negatives.set(b.text.subarray(4 * T, 5 * T), 0);
  const positives = new Float32Array(ROWS * 2 * ROWS);
  for (let i = 0; i < ROWS; i++) positives.set(b.positives.subarray(i * ROWS, (i + 1) * ROWS), i * 2 * ROWS);
  positives[4 * 2 * ROWS + ROWS] = 1; // negative 0 = caption 4
  return { ...b, negatives, positives };
}

/** A CLIP whose every parameter is nudged off its initial value (LayerNorm gains ≠ 1, biases ≠ 0). */
function model(logScale?: number): Clip {
  const m = new Clip(CONFIG, 7);
  const r = mulberry32(11);
  for (const [name, v] of m.params.trainable()) {
    const values = Float32Array.from(v.dataSync() as Float32Array, (x) => x + 0.05 * (r() * 2 - 1));
    if (name === "clip.logitScale" && logScale !== undefined) values[0] = logScale;
    v.assign(tf.tensor(values, v.shape));
  }
  return m;
}

interface Errors {
  loss: number;
  logs: number;
  /** The worst parameter's gradient error, each relative to its own largest value, and which parameter. */
  grads: number;
  worst: string;
}

async function compare(m: Clip, data: Batch, planted: ClipTrainingGraphOptions["planted"] = {}): Promise<Errors> {
  const { imageSize: s, channels: ch, textLen: T } = CONFIG;
  const texts = data.negatives ? Int32Array.from([...data.text, ...data.negatives]) : data.text;
  const nt = texts.length / T;
  const vars = [...m.params.trainable()];
  let logs: Record<string, number> = {};
  const { value, grads } = tf.variableGrads(
    () => {
      const images = tf.div(tf.tensor4d(data.pixels, [ROWS, s, s, ch], "int32"), 255) as tf.Tensor4D; // [B, S, S, C]
      const l = m.loss(images, tf.tensor2d(texts, [nt, T], "int32"), tf.tensor2d(data.positives, [ROWS, nt]));
      logs = { i2t: l.imageToText.dataSync()[0], t2i: l.textToImage.dataSync()[0], scale: l.logitScale.dataSync()[0] };
      return l.loss;
    },
    vars.map(([, v]) => v),
  );
  const want = { loss: value.dataSync()[0], grads: new Map(vars.map(([name, v]) => [name, grads[v.name].dataSync() as Float32Array])) };
  tf.dispose([value, ...Object.values(grads)]);

  const g = exportClipTrainingGraph(CONFIG, { batch: ROWS, gradients: true, negatives: !!data.negatives, planted });
  const session = await InferenceSession.create(g.bytes, { graphOptimizationLevel: "all" });
  try {
    const feeds: Record<string, Tensor> = {
      [g.names.images]: new Tensor("uint8", data.pixels, [ROWS, s, s, ch]),
      [g.names.text]: new Tensor("int32", data.text, [ROWS, T]),
      [g.names.positives]: new Tensor("float32", data.positives, [ROWS, nt]),
    };
    if (g.names.negatives && data.negatives) feeds[g.names.negatives] = new Tensor("int32", data.negatives, [ROWS, T]);
    for (const p of g.params) {
      const v = m.params.get(p);
      feeds[p] = new Tensor("float32", Float32Array.from(v.dataSync()), v.shape);
    }
    const out = await session.run(feeds);
    const read = (name: string) => out[name].data as Float32Array;
    expect([...g.params].sort()).toEqual([...want.grads.keys()].sort());
    return tapeErrors(read, g.names, { ...want, logs });
  } finally {
    await session.release();
  }
}

const TOL = 1e-4;

describe("the CLIP training graph equals the tfjs tape", () => {
  const cases: [string, { full: boolean; logScale?: number; negatives?: boolean }][] = [
    ["a caption fills all T positions ([EOS] in the appended slot)", { full: true }],
    ["every caption shorter than T (the tfjs tower trims to the longest)", { full: false }],
    ["the logit scale above its clamp (no gradient reaches the temperature)", { full: true, logScale: Math.log(150) }],
    ["a hard negative per row, one of them another row's caption", { full: true, negatives: true }],
  ];
  itWithModel(
    cases,
    (name) => `${name}: loss, both directions, scale and every gradient (≤ ${TOL} relative)`,
    (c) => model(c.logScale),
    async (m, c, name) =>
      expectEqualToTape(await compare(m, c.negatives ? withNegatives(batch(c.full, 3), 5) : batch(c.full, 3)), TOL, name),
  );
});

describe("planted bugs fail the comparison", () => {
  const cases: [string, ClipTrainingGraphOptions["planted"]][] = [
    ["the positive-pair mask dropped (diagonal targets only)", { noPositives: true }],
    ["one direction of the symmetric loss", { oneDirection: true }],
    ["the temperature detached", { detachTemperature: true }],
    ["features read at the last caption token, not [EOS]", { eosOffByOne: true }],
    ["a value used twice gets one use's gradient", { countOnce: true }],
  ];
  itWithModel(
    cases,
    (name) => name,
    () => model(),
    async (m, planted, name) => expectPlantSeen(await compare(m, batch(true, 3), planted), TOL, name),
  );
  itWithModel(
    [["hard negatives read in the text→image direction too", { negativesInTextToImage: true }]] as [
      string,
      ClipTrainingGraphOptions["planted"],
    ][],
    (name) => name,
    () => model(),
    async (m, planted, name) => expectPlantSeen(await compare(m, withNegatives(batch(true, 3), 5), planted), TOL, name),
  );
});
