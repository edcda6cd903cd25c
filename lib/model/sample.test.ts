// Grouped batches (one group per job): on both engines, each group's codes and the stream of its codes are exactly
// those it gets alone from sampleImageCodesBatch with the same seed, whatever it is batched with (guided next to
// unguided, other temperatures and filters, other orders). Weights are scrambled so that a group reading another
// row's logits, or another group's guidance or filter, draws other codes.
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scrambleWeights, tinyTransformerConfig as config } from "../../test/fixtures/tiny-transformer";
import { selectBackend } from "../tensor/backend";
import { releaseOnnxDecoder } from "./onnx/decoder-session";
import { sampleImageCodeGroupsOnnx, sampleImageCodesBatchOnnx } from "./onnx/sample";
import { sampleImageCodeGroups, sampleImageCodesBatch, type SampleGroup } from "./sample";
import { Transformer } from "./transformer";

const a = [3, 4, 0, 0];
const b = [5, 6, 7, 8];
const nul = [2, 0, 0, 0];
const plain = (grids: Int32Array[]) => grids.map((g) => [...g]);

let model: Transformer;
beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  model = new Transformer(config, 31);
  scrambleWeights(model, 700);
});
afterAll(async () => {
  await releaseOnnxDecoder(model);
  model.dispose();
});

const groups: SampleGroup[] = [
  { texts: [a], n: 2, guidance: 3, temperature: 0.7, topK: 3, seed: 8 },
  { texts: [b], n: 3, guidance: 1, temperature: 1, seed: 9 },
  { texts: [a, b], n: 1, guidance: 1.5, temperature: 0.3, topP: 0.9, seed: 10 },
  // The same prompt and seed as the first group, unguided: its codes must come out as alone, not as the first's.
  { texts: [a], n: 2, guidance: 1, temperature: 0.7, topK: 3, seed: 8 },
];

const engines = [
  { name: "tfjs", alone: sampleImageCodesBatch, grouped: sampleImageCodeGroups },
  { name: "onnx", alone: sampleImageCodesBatchOnnx, grouped: sampleImageCodeGroupsOnnx },
];

describe.each(engines)("grouped sampling ($name)", ({ alone, grouped }) => {
  /** One group alone: its codes and each token's snapshot. */
  async function single(g: SampleGroup) {
    const stream: string[] = [];
    const { texts, ...o } = g;
    const codes = await alone(model, texts, nul, { ...o, onToken: ({ index, codes: c }) => void stream.push(`${index}:${plain(c)}`) });
    return { codes: plain(codes), stream };
  }

  it("gives every group the codes and the stream it gets alone, in any order and company", async () => {
    const want = await Promise.all(groups.map(single));
    for (const order of [
      [0, 1, 2, 3],
      [3, 2, 1, 0],
      [1, 0],
    ]) {
      const streams = order.map(() => [] as string[]);
      const got = await grouped(
        model,
        order.map((g) => groups[g]),
        nul,
        { onToken: ({ index, codes }) => codes.forEach((c, i) => streams[i].push(`${index}:${plain(c)}`)) },
      );
      order.forEach((g, i) => {
        expect(plain(got[i])).toEqual(want[g].codes);
        expect(streams[i]).toEqual(want[g].stream);
      });
    }
    // Not trivially equal: guidance changes the first group's codes, and so does another seed.
    expect(want[3].codes).not.toEqual(want[0].codes);
    expect((await single({ ...groups[1], seed: 11 })).codes).not.toEqual(want[1].codes);
  });

  it("matches the full-recompute reference path, and refuses a bad group", async () => {
    const want = await grouped(model, groups, nul);
    expect((await grouped(model, groups, nul, { useCache: false })).map(plain)).toEqual(want.map(plain));
    await expect(grouped(model, [groups[0], { ...groups[1], n: 0 }], nul)).rejects.toThrow(/positive integer/);
    await expect(grouped(model, [groups[0], { ...groups[1], texts: [[1, 2]] }], nul)).rejects.toThrow(/length 4/);
  });

  it("leaks no tfjs tensors", async () => {
    await grouped(model, groups, nul); // builds the ONNX session, compiles kernels
    const before = tf.memory().numTensors;
    await grouped(model, groups, nul);
    expect(tf.memory().numTensors).toBe(before);
  });
});
