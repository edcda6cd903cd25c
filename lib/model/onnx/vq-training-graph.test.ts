// The image tokenizer's native training graph against the tfjs tape it replaces (VQModel.forward under
// tf.variableGrads, as the task's loss runs on the tfjs engine): the loss, each logged term, every trainable
// parameter's gradient, and the encoder outputs and codes the EMA update gathers, on a tiny config with an EMA
// codebook seeded from data, a codebook trained by gradient, zero padding and the "ae" baseline. Then proof that the
// comparison can tell: each planted bug must fail it.
//
// The tape's MirrorPad gradient is the corrected one registerFastGradients installs: tfjs 4.22's stock rule
// (tfjs-core/src/gradients/MirrorPad_grad.ts) only slices the interior out of dy, dropping the gradient of every
// replicated border pixel, so every edge-padded model trained on tfjs got a wrong gradient at its borders. The
// first block shows it against finite differences and shows that the stock tape is exactly our graph with that bug
// planted (edgeNotSummed); the comparisons after it hold the graph to the corrected tape.
import * as tf from "@tensorflow/tfjs";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { beforeAll, describe, expect, it } from "vitest";
import { tinyVQConfig } from "../../../test/fixtures/tiny-vq-config";
import { blobPictures } from "../../../test/fixtures/blob-pictures";
import { maxRelativeError } from "../../../test/fixtures/relative-error";
import { tapeErrors } from "../../../test/fixtures/tape-equality";
import { mulberry32 } from "../../data/rng";
import { selectBackend } from "../../tensor/backend";
import { registerFastGradients, stockMirrorPadGradient } from "../../tensor/gradients";
import type { VQConfig } from "../vq-config";
import { VQModel } from "../vq-model";
import { exportVqTrainingGraph, type VqTrainingGraphOptions } from "./vq-training-graph";

let stockMirrorPadGrad: tf.GradConfig;
let summedMirrorPadGrad: tf.GradConfig;

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  registerFastGradients(); // the gradients the trainer's tape uses
  stockMirrorPadGrad = stockMirrorPadGradient()!;
  summedMirrorPadGrad = tf.getGradient("MirrorPad");
});

/** Runs `fn` on a tape with tfjs's stock MirrorPad gradient, then restores the summed one. */
async function withStockMirrorPad<T>(fn: () => Promise<T>): Promise<T> {
  tf.registerGradient(stockMirrorPadGrad);
  try {
    return await fn();
  } finally {
    tf.registerGradient(summedMirrorPadGrad);
  }
}

const ROWS = 3;
const SIZE = 16;

/** Smooth random pictures as uint8 [B, S, S, 3] (test/fixtures/blob-pictures.ts). */
const pictures = (rows: number, seed: number) => blobPictures(rows, SIZE, seed);

/** Pixels as the task turns them into a tensor: [B, S, S, C] in [0, 1]. */
const toTensor = (pixels: Uint8Array, rows: number) => tf.div(tf.tensor4d(pixels, [rows, SIZE, SIZE, 3], "int32"), 255) as tf.Tensor4D;

/** A model whose EMA codebook was seeded from encoder outputs (its first afterStep), as training sees it after step 0. */
async function model(config: VQConfig): Promise<VQModel> {
  const m = new VQModel(config, 4);
  const x = toTensor(pictures(8, 99), 8);
  const f = m.forward(x, { training: true });
  await m.afterStep(f);
  tf.dispose([x, f.reconstruction, f.loss, ...Object.values(f.losses), f.codes, f.latents, f.features]);
  return m;
}

interface Errors {
  loss: number;
  logs: number;
  /** The worst parameter's gradient error, each relative to its own largest value, and which parameter. */
  grads: number;
  worst: string;
  latents: number;
  codesDiffer: number;
}

async function compare(m: VQModel, planted: VqTrainingGraphOptions["planted"] = {}): Promise<Errors> {
  const pixels = pictures(ROWS, 5);
  const images = toTensor(pixels, ROWS);
  const vars = [...m.params.trainable()];
  // What the tape's tidy would dispose, kept to read after it (as the task's gather is).
  let kept: tf.Tensor[] = [];
  let logs: Record<string, tf.Scalar> = {};
  let gathered: { latents: tf.Tensor; codes: tf.Tensor } | undefined;
  const { value, grads } = tf.variableGrads(
    () => {
      const f = m.forward(images, { training: true });
      logs = Object.fromEntries(Object.entries(f.losses).map(([k, v]) => [k, tf.keep(v)]));
      gathered = { latents: tf.keep(f.latents), codes: tf.keep(f.codes) };
      kept = [...Object.values(logs), gathered.latents, gathered.codes];
      return f.loss;
    },
    vars.map(([, v]) => v),
  );
  const want = {
    loss: value.dataSync()[0],
    logs: Object.fromEntries(Object.entries(logs).map(([k, v]) => [k, v.dataSync()[0]])),
    grads: new Map(vars.map(([name, v]) => [name, grads[v.name].dataSync() as Float32Array])),
    latents: gathered!.latents.dataSync() as Float32Array,
    codes: gathered!.codes.dataSync() as Int32Array,
  };
  tf.dispose([images, value, ...Object.values(grads), ...kept]);

  const g = exportVqTrainingGraph(m.config, { batch: ROWS, gradients: true, planted });
  const session = await InferenceSession.create(g.bytes, { graphOptimizationLevel: "all" });
  try {
    const feeds: Record<string, Tensor> = { [g.names.images]: new Tensor("uint8", pixels, [ROWS, SIZE, SIZE, 3]) };
    for (const p of [...g.params, ...(g.names.codebook ? [g.names.codebook] : [])]) {
      const v = m.params.get(p);
      feeds[p] = new Tensor("float32", Float32Array.from(v.dataSync()), v.shape);
    }
    const out = await session.run(feeds);
    const read = (name: string) => out[name].data as Float32Array;
    expect(Object.keys(g.names.logs).sort()).toEqual(Object.keys(want.logs).sort());
    expect(Object.keys(g.names.grads).sort()).toEqual([...want.grads.keys()].sort());
    const gathered = g.names.gather.latents !== undefined;
    return {
      ...tapeErrors(read, g.names, want),
      latents: gathered ? maxRelativeError(read(g.names.gather.latents), want.latents) : 0,
      codesDiffer: gathered ? (out[g.names.gather.codes].data as Int32Array).filter((c, i) => c !== want.codes[i]).length : 0,
    };
  } finally {
    await session.release();
  }
}

/** Seen: loss and terms ≤ 9e-7, gradients ≤ 2e-6 relative on every config below; each planted bug ≥ 0.25. */
const TOL = 1e-4;

const CONFIGS: Record<string, VQConfig> = {
  "VQ-VAE, EMA codebook, edge padding (the shipped recipe)": tinyVQConfig({ imageSize: SIZE }),
  "VQ-VAE, codebook trained by gradient": tinyVQConfig({ imageSize: SIZE, ema: false }),
  "VQ-VAE, zero padding, two residual blocks": tinyVQConfig({ imageSize: SIZE, padding: "zero", resBlocks: 2 }),
  '"ae" (no bottleneck)': tinyVQConfig({ imageSize: SIZE, kind: "ae" }),
};

/** Largest |tape − central difference| of d Σ(mirrorPad(x) ⊙ R) / dx, relative to the largest numeric value. */
function mirrorPadGradientError(mode: "symmetric" | "reflect"): number {
  const r = mulberry32(3);
  const x = Float32Array.from({ length: 1 * 4 * 5 * 2 }, () => r() * 2 - 1);
  const pads: [number, number][] = [
    [0, 0],
    [1, 2],
    [2, 1],
    [0, 0],
  ];
  const weights = tf.randomUniform([1, 7, 8, 2], -1, 1, "float32", 9);
  const f = (v: tf.Tensor) => tf.sum(tf.mul(tf.mirrorPad(v as tf.Tensor4D, pads, mode), weights));
  const analytic = tf.tidy(() =>
    tf
      .grad(f)(tf.tensor4d(x, [1, 4, 5, 2]))
      .dataSync(),
  );
  const at = (v: Float32Array) => tf.tidy(() => f(tf.tensor4d(v, [1, 4, 5, 2])).dataSync()[0]);
  const eps = 1e-2;
  const numeric = Array.from(x, (v, i) => {
    const up = Float32Array.from(x);
    const down = Float32Array.from(x);
    up[i] = v + eps;
    down[i] = v - eps;
    return (at(up) - at(down)) / (2 * eps);
  });
  weights.dispose();
  return maxRelativeError(analytic, numeric);
}

describe("tfjs's MirrorPad gradient (why the tape here is corrected)", () => {
  for (const mode of ["symmetric", "reflect"] as const)
    it(`${mode}: the stock rule misses the border copies, the summed one agrees with finite differences`, async () => {
      const summed = mirrorPadGradientError(mode);
      const stock = await withStockMirrorPad(async () => mirrorPadGradientError(mode));
      console.log(`MirrorPad ${mode}: stock ${stock.toExponential(2)}, summed ${summed.toExponential(2)}`);
      expect(summed).toBeLessThan(1e-3);
      expect(stock).toBeGreaterThan(0.3);
    });

  it("the stock tape is the graph with edge padding's copies not summed (the tape's only difference)", async () => {
    const m = await model(CONFIGS["VQ-VAE, EMA codebook, edge padding (the shipped recipe)"]);
    try {
      const bug = await withStockMirrorPad(() => compare(m, { edgeNotSummed: true }));
      const right = await withStockMirrorPad(() => compare(m));
      console.log(`stock tape: graph with edgeNotSummed ${bug.grads.toExponential(2)}, true graph ${right.grads.toExponential(2)}`);
      expect(bug.grads).toBeLessThan(TOL);
      expect(right.grads).toBeGreaterThan(0.1);
    } finally {
      m.dispose();
    }
  });
});

describe("the VQ training graph equals the tfjs tape", () => {
  for (const [name, config] of Object.entries(CONFIGS)) {
    it(`${name}: loss, terms, every gradient (≤ ${TOL} relative), encoder outputs and codes`, async () => {
      const m = await model(config);
      try {
        const e = await compare(m);
        console.log(`${name}: ${JSON.stringify(e)}`);
        expect(e.codesDiffer).toBe(0);
        expect(e.loss).toBeLessThan(TOL);
        expect(e.logs).toBeLessThan(TOL);
        expect(e.latents).toBeLessThan(TOL);
        expect(e.grads).toBeLessThan(TOL);
      } finally {
        m.dispose();
      }
    });
  }
});

describe("planted bugs fail the comparison", () => {
  const cases: [string, VQConfig, VqTrainingGraphOptions["planted"]][] = [
    [
      "no straight-through: the decoder reads e[codes]",
      CONFIGS["VQ-VAE, EMA codebook, edge padding (the shipped recipe)"],
      { noStraightThrough: true },
    ],
    ["every stop-gradient leaks", CONFIGS["VQ-VAE, EMA codebook, edge padding (the shipped recipe)"], { stopGradientLeaks: true }],
    ["the commitment term's stop-gradient dropped", CONFIGS["VQ-VAE, codebook trained by gradient"], { commitmentUnstopped: true }],
    [
      "zero padding where the model pads with its border",
      CONFIGS["VQ-VAE, EMA codebook, edge padding (the shipped recipe)"],
      { zeroPadding: true },
    ],
    [
      "Conv's input gradient without the kernel flip",
      CONFIGS["VQ-VAE, EMA codebook, edge padding (the shipped recipe)"],
      { unflippedKernel: true },
    ],
    ["SpaceToDepth undone in CRD order", CONFIGS["VQ-VAE, EMA codebook, edge padding (the shipped recipe)"], { depthToSpaceMode: true }],
  ];
  for (const [name, config, planted] of cases) {
    it(name, async () => {
      const m = await model(config);
      try {
        const e = await compare(m, planted);
        console.log(`planted ${name}: ${JSON.stringify(e)}`);
        expect(Math.max(e.loss, e.grads)).toBeGreaterThan(TOL);
      } finally {
        m.dispose();
      }
    });
  }

  it("the commitment term's stop-gradient cannot matter with an EMA codebook (an input, never differentiated)", async () => {
    const m = await model(CONFIGS["VQ-VAE, EMA codebook, edge padding (the shipped recipe)"]);
    try {
      expect((await compare(m, { commitmentUnstopped: true })).grads).toBeLessThan(TOL);
    } finally {
      m.dispose();
    }
  });
});
