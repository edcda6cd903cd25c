// The native training graph against the tfjs reference it must equal: the loss of Transformer.loss (≤ 1e-5) and
// the gradient of every parameter from the tfjs tape (≤ 1e-4 relative), on scrambled weights and a batch with
// <pad> positions and repeated codes; the dropout path against finite differences; planted bugs seen failing.
import * as tf from "@tensorflow/tfjs";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { beforeAll, describe, expect, it } from "vitest";
import { maxRelativeError } from "../../../test/fixtures/relative-error";
import { scrambleWeights, tinyTransformerConfig } from "../../../test/fixtures/tiny-transformer";
import { mulberry32 } from "../../data/rng";
import { selectBackend } from "../../tensor/backend";
import { registerFastGradients } from "../../tensor/gradients";
import { Transformer } from "../transformer";
import { imageTokens, type TransformerConfig } from "../transformer-config";
import type { PlantedGradientBugs } from "./autodiff";
import { exportTrainingGraph, type TrainingGraph } from "./training-graph";

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  registerFastGradients();
});

const B = 3;

function batch(c: TransformerConfig, seed: number): { text: number[][]; codes: number[][] } {
  const r = mulberry32(seed);
  const text = Array.from({ length: B }, (_, b) =>
    Array.from({ length: c.textLen }, (_, i) => (i >= c.textLen - b ? c.padId : 1 + Math.floor(r() * (c.textVocab - 1)))),
  );
  const codes = Array.from({ length: B }, () => Array.from({ length: imageTokens(c) }, () => Math.floor(r() * c.imageVocab)));
  return { text, codes };
}

/** The graph's feeds: parameters from the model, text with pads made positional (as Transformer.padToPositional). */
function feeds(model: Transformer, graph: TrainingGraph, data: ReturnType<typeof batch>, masks: Record<string, Uint8Array> = {}) {
  const c = model.config;
  const f: Record<string, Tensor> = {};
  for (const p of graph.params) {
    const v = model.params.get(p);
    f[p] = new Tensor("float32", Float32Array.from(v.dataSync()), v.shape);
  }
  const ids = data.text.flatMap((row) => row.map((id, i) => (id === c.padId ? c.textVocab + i : id)));
  f[graph.names.text] = new Tensor("int32", Int32Array.from(ids), [B, c.textLen]);
  f[graph.names.codes] = new Tensor("int32", Int32Array.from(data.codes.flat()), [B, imageTokens(c)]);
  for (const [name, m] of Object.entries(masks)) f[name] = new Tensor("uint8", m, graph.masks[name]);
  return f;
}

async function runGraph(graph: TrainingGraph, f: Record<string, Tensor>) {
  const s = await InferenceSession.create(graph.bytes, { graphOptimizationLevel: "all", intraOpNumThreads: 1 });
  try {
    return await s.run(f);
  } finally {
    await s.release();
  }
}

/** Worst relative gradient error over all parameters and the loss errors, native graph against the tfjs tape. */
async function compare(config: TransformerConfig, planted?: PlantedGradientBugs) {
  const model = new Transformer(config, 3);
  scrambleWeights(model, 5);
  const data = batch(config, 9);
  const graph = exportTrainingGraph(config, { batch: B, dropout: false, gradients: true, planted });
  try {
    const out = await runGraph(graph, feeds(model, graph, data));
    const text = tf.tensor2d(data.text, [B, config.textLen], "int32");
    const codes = tf.tensor2d(data.codes, [B, imageTokens(config)], "int32");
    const trainable = [...model.params.trainable()];
    const vars = trainable.map(([, v]) => v);
    const losses = model.loss(text, codes, false);
    const { grads } = tf.variableGrads(() => model.loss(text, codes, false).loss, vars);
    const lossErr = Math.max(
      Math.abs((out.loss.data as Float32Array)[0] - losses.loss.dataSync()[0]),
      Math.abs((out.textLoss.data as Float32Array)[0] - losses.textLoss.dataSync()[0]),
      Math.abs((out.imageLoss.data as Float32Array)[0] - losses.imageLoss.dataSync()[0]),
    );
    let gradErr = 0;
    for (const [name, v] of trainable) {
      const want = grads[v.name].dataSync();
      gradErr = Math.max(gradErr, maxRelativeError(out[graph.names.grads[name]].data as Float32Array, want));
    }
    tf.dispose([text, codes, losses.loss, losses.textLoss, losses.imageLoss, ...Object.values(grads)]);
    return { lossErr, gradErr, params: graph.params.length, vars: vars.length };
  } finally {
    model.dispose();
  }
}

describe("the native training graph equals Transformer.loss and its tape", () => {
  it("tiny config: loss ≤ 1e-5, every parameter's gradient ≤ 1e-4 relative", async () => {
    const r = await compare(tinyTransformerConfig);
    expect(r.params).toBe(r.vars); // every parameter is an input, so every one gets a gradient
    expect(r.lossErr).toBeLessThan(1e-5);
    expect(r.gradErr).toBeLessThan(1e-4);
  });

  it("a wider config with more heads and a longer caption", async () => {
    const r = await compare({ ...tinyTransformerConfig, textLen: 6, nHead: 4, nEmbd: 32, nLayer: 3, imageGrid: 4, imageVocab: 16 });
    expect(r.lossErr).toBeLessThan(1e-5);
    expect(r.gradErr).toBeLessThan(1e-4);
  });

  for (const [name, planted] of [
    ["a value used twice counted once", { countOnce: true }],
    ["a missing broadcast reduction", { missingReduction: true }],
  ] as const) {
    it(`planted: ${name} is caught`, async () => {
      const r = await compare(tinyTransformerConfig, planted);
      expect(r.gradErr).toBeGreaterThan(1e-2);
    });
  }
});

describe("dropout masks", () => {
  const config = { ...tinyTransformerConfig, dropout: 0.25 };

  /** Relative error of the graph's gradient against central differences on a sample of parameter entries. */
  async function dropoutGradError(planted?: PlantedGradientBugs): Promise<number> {
    const model = new Transformer(config, 3);
    scrambleWeights(model, 5);
    const data = batch(config, 9);
    const graph = exportTrainingGraph(config, { batch: B, dropout: true, gradients: true, planted });
    const r = mulberry32(4);
    const masks = Object.fromEntries(
      Object.entries(graph.masks).map(([name, shape]) => [
        name,
        Uint8Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (r() < 0.25 ? 0 : 1)),
      ]),
    );
    const f = feeds(model, graph, data, masks);
    const s = await InferenceSession.create(graph.bytes, { intraOpNumThreads: 1 });
    try {
      const base = await s.run(f);
      let worst = 0;
      let scale = 1e-3;
      for (const p of ["h.0.qkv.w", "h.1.fc.w", "emb.text", "h.0.ln1.g"]) {
        const values = f[p].data as Float32Array;
        const analytic = base[graph.names.grads[p]].data as Float32Array;
        for (let k = 0; k < 6; k++) {
          const i = Math.floor(r() * values.length);
          const v = values[i];
          const eps = 1e-2;
          values[i] = v + eps;
          const up = ((await s.run(f)).loss.data as Float32Array)[0];
          values[i] = v - eps;
          const down = ((await s.run(f)).loss.data as Float32Array)[0];
          values[i] = v;
          const numeric = (up - down) / (2 * eps);
          scale = Math.max(scale, Math.abs(numeric));
          worst = Math.max(worst, Math.abs(numeric - analytic[i]));
        }
      }
      return worst / scale;
    } finally {
      await s.release();
      model.dispose();
    }
  }

  it("the gradient through masked activations matches finite differences", async () => {
    expect(await dropoutGradError()).toBeLessThan(1e-2);
  });

  it("planted: the mask dropped from the backward pass is caught", async () => {
    expect(await dropoutGradError({ maskDropped: true })).toBeGreaterThan(5e-2);
  });
});
