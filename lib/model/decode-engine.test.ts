// The three engines behind the one sampler give the same logits for the same fed codes: the KV-cached tfjs engine
// and ONNX Runtime's against the reference that recomputes everything, at every position, guidance rows included;
// and a state's dispose frees its tensors whether the generation ran to the end or stopped midway.
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scrambleWeights, tinyTransformerConfig as config } from "../../test/fixtures/tiny-transformer";
import { mulberry32 } from "../data/rng";
import { selectBackend } from "../tensor/backend";
import { referenceEngine, tfjsEngine, type DecodeEngine } from "./decode-engine";
import { OnnxDecoder } from "./onnx/decoder-session";
import { Transformer } from "./transformer";
import { imageTokens } from "./transformer-config";

const prompts = [
  [3, 4, 0, 0],
  [5, 6, 7, 8],
  [2, 0, 0, 0],
];

let model: Transformer;
let onnx: OnnxDecoder;
beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  model = new Transformer(config, 41);
  scrambleWeights(model, 800);
  onnx = await OnnxDecoder.create(model);
});
afterAll(async () => {
  await onnx.release();
  model.dispose();
});

/** Every position's logits [rows · K] from prefill and `steps` steps, fed codes drawn from a seeded stream. */
async function logitsOf(engine: DecodeEngine, steps = imageTokens(config) - 1): Promise<Float32Array[]> {
  const rand = mulberry32(5);
  const { logits, state } = await engine.prefill(prompts);
  const all = [Float32Array.from(logits)];
  try {
    for (let i = 0; i < steps; i++) {
      const codes = Int32Array.from(prompts, () => Math.floor(rand() * config.imageVocab)); // [rows]
      all.push(Float32Array.from(await state.step(codes, i)));
    }
  } finally {
    state.dispose();
  }
  return all;
}

function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  expect(a.map((x) => x.length)).toEqual(b.map((x) => x.length));
  return Math.max(...a.map((x, i) => Math.max(...x.map((v, j) => Math.abs(v - b[i][j])))));
}

describe("decode engines", () => {
  it("give the reference engine's logits at every position (tfjs cached, ONNX Runtime)", async () => {
    const want = await logitsOf(referenceEngine(model));
    expect(want).toHaveLength(imageTokens(config));
    expect(want[0]).toHaveLength(prompts.length * config.imageVocab);
    expect(maxDiff(await logitsOf(tfjsEngine(model)), want)).toBeLessThan(1e-4);
    expect(maxDiff(await logitsOf(onnx), want)).toBeLessThan(1e-4);
    // The comparison can tell: other weights give other logits.
    const other = new Transformer(config, 42);
    scrambleWeights(other, 801);
    expect(maxDiff(await logitsOf(tfjsEngine(other)), want)).toBeGreaterThan(1e-2);
    other.dispose();
  });

  it("free every tensor on dispose, after the last step or midway", async () => {
    await logitsOf(tfjsEngine(model)); // compiles kernels
    const before = tf.memory().numTensors;
    for (const engine of [tfjsEngine(model), referenceEngine(model)]) {
      await logitsOf(engine);
      await logitsOf(engine, 2);
      expect(tf.memory().numTensors).toBe(before);
    }
  });
});
