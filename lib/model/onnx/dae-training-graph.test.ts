// The denoising autoencoder's native training graph against the tfjs tape it replaces (mean of DAE.loss under
// tf.variableGrads, as training/lab/dae-task.ts's loss runs on the tfjs engine): the loss, the logged corruption
// error and every parameter's gradient, on tiny configs, fed the corruption tfjs draws for one seed. Then proof that
// the comparison can tell: each planted bug must fail it.
import * as tf from "@tensorflow/tfjs";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { beforeAll, describe, expect } from "vitest";
import { expectEqualToTape, expectPlantSeen, itWithModel, tapeErrors } from "../../../test/fixtures/tape-equality";
import { mulberry32 } from "../../data/rng";
import { selectBackend } from "../../tensor/backend";
import { registerFastGradients } from "../../tensor/gradients";
import { DAE } from "../dae";
import { DEFAULT_DAE_CONFIG, type DAEConfig } from "../dae-config";
import { corrupt, DEFAULT_CORRUPTION } from "../dae-corruption";
import { exportDaeTrainingGraph, type DaeTrainingGraphOptions } from "./dae-training-graph";

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  registerFastGradients(); // the gradients the trainer's tape uses
});

const ROWS = 4;
const SIZE = 16;

/** Flat-coloured rectangles on random backgrounds as uint8 [B, S, S, 3]. */
function pictures(rows: number, seed: number): Uint8Array {
  const r = mulberry32(seed);
  const out = new Uint8Array(rows * SIZE * SIZE * 3);
  for (let b = 0; b < rows; b++) {
    const [x0, y0, w, h] = [r() * 8, r() * 8, 3 + r() * 8, 3 + r() * 8];
    const fg = [r(), r(), r()].map((v) => Math.round(v * 255));
    const bg = [r(), r(), r()].map((v) => Math.round(v * 255));
    for (let y = 0; y < SIZE; y++)
      for (let x = 0; x < SIZE; x++) {
        const inside = x >= x0 && x < x0 + w && y >= y0 && y < y0 + h;
        out.set(inside ? fg : bg, ((b * SIZE + y) * SIZE + x) * 3);
      }
  }
  return out;
}

interface Errors {
  loss: number;
  logs: number;
  /** The worst parameter's gradient error, each relative to its own largest value, and which parameter. */
  grads: number;
  worst: string;
}

/** The default corruption with every image corrupted, so each row has noise (and some salt and pepper) to undo. */
const CORRUPTION = { ...DEFAULT_CORRUPTION, pClean: 0, pSaltPepper: 0.7 };

async function compare(m: DAE, planted: DaeTrainingGraphOptions["planted"] = {}): Promise<Errors> {
  const pixels = pictures(ROWS, 5);
  const clean = tf.div(tf.tensor4d(pixels, [ROWS, SIZE, SIZE, 3], "int32"), 255) as tf.Tensor4D; // [B, S, S, C] in [0, 1]
  const noisy = corrupt(clean, CORRUPTION, 777);
  const vars = [...m.params.trainable()];
  const { value, grads } = tf.variableGrads(
    () => tf.mean(m.loss(noisy, clean)) as tf.Scalar,
    vars.map(([, v]) => v),
  );
  const noisyMse = tf.tidy(() => tf.mean(tf.square(tf.sub(noisy, clean))).dataSync()[0]);
  const want = { loss: value.dataSync()[0], grads: new Map(vars.map(([name, v]) => [name, grads[v.name].dataSync() as Float32Array])) };
  const noisyValues = Float32Array.from(noisy.dataSync());
  tf.dispose([clean, noisy, value, ...Object.values(grads)]);

  const g = exportDaeTrainingGraph(m.config, { batch: ROWS, gradients: true, planted });
  const session = await InferenceSession.create(g.bytes, { graphOptimizationLevel: "all" });
  try {
    const feeds: Record<string, Tensor> = {
      [g.names.images]: new Tensor("uint8", pixels, [ROWS, SIZE, SIZE, 3]),
      [g.names.noisy]: new Tensor("float32", noisyValues, [ROWS, SIZE, SIZE, 3]),
    };
    for (const p of g.params) {
      const v = m.params.get(p);
      feeds[p] = new Tensor("float32", Float32Array.from(v.dataSync()), v.shape);
    }
    const out = await session.run(feeds);
    const read = (name: string) => out[name].data as Float32Array;
    expect(Object.keys(g.names.grads).sort()).toEqual([...want.grads.keys()].sort());
    return tapeErrors(read, { ...g.names, logs: { noisyMse: g.names.logs.noisyMse } }, { ...want, logs: { noisyMse } });
  } finally {
    await session.release();
  }
}

const TOL = 1e-4;

const EDGE: DAEConfig = { ...DEFAULT_DAE_CONFIG, imageSize: SIZE, widths: [8, 16], resBlocks: 1 };
const CONFIGS: Record<string, DAEConfig> = {
  "edge padding, one residual block per stage (the shipped recipe, narrower)": EDGE,
  "zero padding, no residual blocks (the tiny preset)": { ...EDGE, padding: "zero", resBlocks: 0 },
  "three stages, two residual blocks": { ...EDGE, widths: [4, 8, 8], resBlocks: 2 },
};

describe("the DAE training graph equals the tfjs tape", () => {
  itWithModel(
    Object.entries(CONFIGS),
    (name) => `${name}: loss, noisyMse and every gradient (≤ ${TOL} relative)`,
    (config) => new DAE(config, 4),
    async (m, _config, name) => expectEqualToTape(await compare(m), TOL, name),
  );
});

describe("planted bugs fail the comparison", () => {
  const cases: [string, DaeTrainingGraphOptions["planted"]][] = [
    ["the network fed the clean image", { cleanInput: true }],
    ["the loss against x̃", { noisyTarget: true }],
    ["no residual: the correction alone", { noResidual: true }],
    ["zero padding where the model pads with its border", { zeroPadding: true }],
    ["SpaceToDepth undone in CRD order", { depthToSpaceMode: true }],
  ];
  itWithModel(
    cases,
    (name) => name,
    () => new DAE(EDGE, 4),
    async (m, planted, name) => expectPlantSeen(await compare(m, planted), TOL, name),
  );
});
