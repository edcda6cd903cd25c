// The ONNX sampler must be a drop-in for sampleImageCodesBatch: for a seed, the same codes, streamed through the
// same onToken calls, under every sampling setting the server passes; no tfjs tensors left behind; and a session
// that follows the model's weights.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { scrambleWeights, tinyTransformerConfig as config } from "../../../test/fixtures/tiny-transformer";
import { selectBackend } from "../../tensor/backend";
import { sampleImageCodesBatch, type SampleOptions } from "../sample";
import { Transformer } from "../transformer";
import { OnnxDecoder, onnxDecoderFor, releaseOnnxDecoder } from "./decoder-session";
import { sampleImageCodesBatchOnnx, sampleImageCodesOnnx } from "./sample";

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
});

const prompt = [3, 4, 0, 0];
const other = [5, 6, 7, 8];
const nul = [2, 0, 0, 0];
const plain = (grids: Int32Array[]) => grids.map((g) => [...g]);

/** Codes plus every onToken snapshot, for one engine. */
async function run(
  engine: typeof sampleImageCodesBatch,
  model: Transformer,
  texts: number[][],
  o: SampleOptions,
): Promise<{ codes: number[][]; stream: string[] }> {
  const stream: string[] = [];
  const codes = await engine(model, texts, nul, {
    ...o,
    onToken: ({ index, total, codes: c }) => void stream.push(`${index}/${total}:${plain(c)}`),
  });
  return { codes: plain(codes), stream };
}

const settings: [string, number[][], SampleOptions][] = [
  ["one prompt, no guidance", [prompt], { n: 3, guidance: 1, temperature: 1, seed: 7 }],
  ["two prompts, guidance 3, top-k 3", [prompt, other], { n: 2, guidance: 3, temperature: 0.7, topK: 3, seed: 8 }],
  [
    "guidance 1.5, temperature 0.3, top-p 0.9 (the default model's settings)",
    [other],
    { n: 4, guidance: 1.5, temperature: 0.3, topP: 0.9, seed: 9 },
  ],
];

describe("ONNX sampler", () => {
  it.each(settings)("returns the tfjs sampler's codes and stream for a seed: %s", async (_, texts, o) => {
    const model = new Transformer(config, 21);
    scrambleWeights(model, 400);
    const want = await run(sampleImageCodesBatch, model, texts, o);
    const got = await run(sampleImageCodesBatchOnnx, model, texts, o);
    expect(got.codes).toEqual(want.codes);
    expect(got.stream).toEqual(want.stream);
    // The codes are not trivially equal: another seed draws others.
    expect((await run(sampleImageCodesBatchOnnx, model, texts, { ...o, seed: o.seed + 1 })).codes).not.toEqual(want.codes);
    await releaseOnnxDecoder(model);
    model.dispose();
  });

  it("draws other codes when the step is wrong (the comparison above can tell)", async () => {
    const model = new Transformer(config, 22);
    scrambleWeights(model, 500);
    const o = { n: 3, guidance: 2, temperature: 1, seed: 3 };
    const decoder = await OnnxDecoder.create(model, { positionOffByOne: true });
    const want = await sampleImageCodesOnnx(model, prompt, nul, o);
    expect(plain(await sampleImageCodesOnnx(model, prompt, nul, { ...o, decoder }))).not.toEqual(plain(want));
    await decoder.release();
    await releaseOnnxDecoder(model);
    model.dispose();
  });

  it("keeps one session per model and rebuilds it when the weights are re-assigned", async () => {
    const model = new Transformer(config, 23);
    const first = onnxDecoderFor(model);
    expect(onnxDecoderFor(model)).toBe(first);
    await first;
    scrambleWeights(model, 600);
    expect(onnxDecoderFor(model)).not.toBe(first);
    const o = { n: 2, guidance: 2, temperature: 1, seed: 4 };
    expect(plain(await sampleImageCodesOnnx(model, prompt, nul, o))).toEqual(plain(await sampleImageCodesBatch(model, [prompt], nul, o)));
    await (await first).release();
    await releaseOnnxDecoder(model);
    model.dispose();
  });

  it("hands useCache: false to the tfjs reference path and validates its input as the tfjs sampler does", async () => {
    const model = new Transformer(config, 24);
    const o = { n: 2, guidance: 1, temperature: 1, seed: 5, useCache: false };
    expect(plain(await sampleImageCodesOnnx(model, prompt, nul, o))).toEqual(plain(await sampleImageCodesBatch(model, [prompt], nul, o)));
    await expect(sampleImageCodesOnnx(model, [1, 2], nul, { ...o, useCache: true })).rejects.toThrow(/length 4/);
    await expect(sampleImageCodesOnnx(model, prompt, nul, { ...o, n: 0, useCache: true })).rejects.toThrow(/positive integer/);
    model.dispose();
  });

  it("leaks no tfjs tensors", async () => {
    const model = new Transformer(config, 25);
    const before = tf.memory().numTensors;
    await sampleImageCodesOnnx(model, prompt, nul, { n: 2, guidance: 2, temperature: 1, seed: 6 }); // builds the session
    await sampleImageCodesOnnx(model, prompt, nul, { n: 2, guidance: 2, temperature: 1, seed: 6 });
    await sampleImageCodesBatchOnnx(model, [prompt, other], nul, { n: 1, guidance: 1, temperature: 1, seed: 6, topK: 2 });
    expect(tf.memory().numTensors).toBe(before);
    await releaseOnnxDecoder(model);
    model.dispose();
  });
});
