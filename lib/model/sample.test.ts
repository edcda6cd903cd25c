// Grouped batches (one group per job): on both engines, each group's codes and the stream of its codes are exactly
// those it gets alone from sampleImageCodesBatch with the same seed, whatever it is batched with (guided next to
// unguided, other temperatures and filters, other orders). Weights are scrambled so that a group reading another
// row's logits, or another group's guidance or filter, draws other codes. Since both engines share one loop, an
// oracle outside it rederives every code by hand. The ONNX engine runs through its own entry points and by name;
// a group primed with a prefix of codes keeps it and samples the rest after it; composable guidance terms add their
// weighted difference from the <null> row.
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scrambleWeights, tinyTransformerConfig as config } from "../../test/fixtures/tiny-transformer";
import { mulberry32 } from "../data/rng";
import { selectBackend } from "../tensor/backend";
import { releaseOnnxDecoder } from "./onnx/decoder-session";
import { sampleImageCodeGroupsOnnx, sampleImageCodesBatchOnnx } from "./onnx/sample";
import { sampleImageCodeGroups, sampleImageCodesBatch, type SampleGroup } from "./sample";
import { guide, sampleToken } from "./sampling";
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
  // Composable guidance with s = 1: <null> rows for its term only, the term's rows after every group's <null> rows.
  { texts: [a, b], n: 1, guidance: 1, terms: [{ texts: [b, a], weight: 0.5 }], temperature: 0.9, seed: 13 },
];

const engines: { name: string; alone: typeof sampleImageCodesBatch; grouped: typeof sampleImageCodeGroups }[] = [
  { name: "tfjs", alone: sampleImageCodesBatch, grouped: sampleImageCodeGroups },
  { name: "onnx", alone: sampleImageCodesBatchOnnx, grouped: sampleImageCodeGroupsOnnx },
  {
    name: "onnx, named",
    alone: (m, texts, nul, o) => sampleImageCodesBatch(m, texts, nul, { ...o, engine: "onnx" }),
    grouped: (m, gs, nul, o) => sampleImageCodeGroups(m, gs, nul, { ...o, engine: "onnx" }),
  },
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
      [0, 1, 2, 3, 4],
      [4, 3, 2, 1, 0],
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
    // Nor when the pass stops midway (a job's progress callback throws): the engine's state is disposed.
    const stop = ({ index }: { index: number }) => {
      if (index === 3) throw new Error("stopped");
    };
    await expect(grouped(model, groups, nul, { onToken: stop })).rejects.toThrow(/stopped/);
    await expect(grouped(model, groups, nul, { onToken: stop, useCache: false })).rejects.toThrow(/stopped/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("draws each image's codes from its own guided logits given its codes before (an oracle outside the loop)", async () => {
    const g: SampleGroup = { texts: [a, b], n: 2, guidance: 3, temperature: 0.8, topP: 0.95, seed: 12 };
    const [got] = await grouped(model, [g, groups[1]], nul);
    // By hand: each image alone through Transformer.nextImageLogits, positions in order, images in order within one.
    const rand = mulberry32(g.seed);
    const prompts = g.texts.flatMap((t) => Array.from({ length: g.n }, () => t));
    const want = prompts.map(() => [] as number[]);
    const k = config.imageVocab;
    for (let i = 0; i < config.imageGrid ** 2; i++)
      prompts.forEach((p, j) => {
        const logits = tf.tidy(() => {
          const past = i ? tf.tensor2d([want[j], want[j]], [2, i], "int32") : null; // [2, i]
          return model.nextImageLogits(tf.tensor2d([p, nul], [2, config.textLen], "int32"), past).dataSync() as Float32Array; // [2 · K]
        });
        want[j].push(sampleToken(guide(logits.subarray(0, k), logits.subarray(k), g.guidance), g, rand));
      });
    expect(plain(got)).toEqual(want);
    expect(new Set(want.map(String)).size).toBe(want.length); // every image its own codes
  });

  it("adds each composable guidance term's weight·(term − <null>) to the guided logits (an oracle outside the loop)", async () => {
    const g: SampleGroup = {
      texts: [a, b],
      n: 2,
      guidance: 2,
      terms: [
        { texts: [b, b], weight: 0.7 },
        { texts: [nul, a], weight: -0.4 },
      ],
      temperature: 0.8,
      seed: 14,
    };
    const [, got] = await grouped(model, [groups[1], g], nul);
    const rand = mulberry32(g.seed);
    const rows = g.texts.flatMap((t, p) => Array.from({ length: g.n }, () => [t, nul, ...g.terms!.map((term) => term.texts[p])]));
    const want = rows.map(() => [] as number[]);
    const k = config.imageVocab;
    for (let i = 0; i < config.imageGrid ** 2; i++)
      rows.forEach((texts, j) => {
        const logits = tf.tidy(() => {
          const past = i
            ? tf.tensor2d(
                texts.flatMap(() => want[j]),
                [texts.length, i],
                "int32",
              )
            : null; // [R, i]
          return model.nextImageLogits(tf.tensor2d(texts, [texts.length, config.textLen], "int32"), past).dataSync() as Float32Array; // [R · K]
        });
        const row = guide(logits.subarray(0, k), logits.subarray(k, 2 * k), g.guidance);
        g.terms!.forEach((t, ti) => {
          for (let v = 0; v < k; v++) row[v] += t.weight * (logits[(2 + ti) * k + v] - logits[k + v]);
        });
        want[j].push(sampleToken(row, g, rand));
      });
    expect(plain(got)).toEqual(want);
    // Not trivially equal: without its terms the group draws other codes.
    expect(plain((await grouped(model, [{ ...g, terms: undefined }], nul))[0])).not.toEqual(want);
    await expect(grouped(model, [{ ...g, terms: [{ texts: [b], weight: 1 }] }], nul)).rejects.toThrow(/one text per prompt: 1 for 2/);
    await expect(grouped(model, [{ ...g, terms: [{ texts: [b, b], weight: NaN }] }], nul)).rejects.toThrow(/weight must be a number/);
  });

  // Image priming: the first codes given, the rest sampled after them.
  it("keeps a prefix exactly, feeds it to the model, and draws the rest with the same numbers", async () => {
    const want = (await grouped(model, groups, nul)).map(plain);
    const keep = 4;
    const own = groups.map((g, i) => ({ ...g, prefix: want[i][0].slice(0, keep) }));
    const got = (await grouped(model, own, nul)).map(plain);
    got.forEach((images, g) => images.forEach((codes) => expect(codes.slice(0, keep)).toEqual(want[g][0].slice(0, keep))));
    // Primed with the codes it drew anyway, an image draws the rest exactly as unprimed: the prefix was fed at
    // its positions and every position still takes its one random number.
    got.forEach((images, g) => expect(images[0]).toEqual(want[g][0]));
    // Another prefix: kept as given, and the model, seeing it, draws other codes after it.
    const shifted = own.map((g) => ({ ...g, prefix: Array.from(g.prefix, (code) => (code + 1) % config.imageVocab) }));
    const moved = (await grouped(model, shifted, nul)).map(plain);
    moved.forEach((images, g) => images.forEach((codes) => expect(codes.slice(0, keep)).toEqual(shifted[g].prefix)));
    expect(moved.map((images) => images.map((codes) => codes.slice(keep)))).not.toEqual(
      want.map((images) => images.map((codes) => codes.slice(keep))),
    );
    // A whole grid given is returned as is; a prefix too long or off the codebook is refused.
    const whole = want[1][0];
    expect(plain((await grouped(model, [{ ...groups[1], prefix: whole }], nul))[0])).toEqual([whole, whole, whole]);
    await expect(grouped(model, [{ ...groups[0], prefix: [...whole, 0] }], nul)).rejects.toThrow(/prefix: 10 codes for a grid of 9/);
    await expect(grouped(model, [{ ...groups[0], prefix: [0, config.imageVocab] }], nul)).rejects.toThrow(/\[0, 8\), got 8 at 1/);
  });
});
