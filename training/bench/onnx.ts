// `npm run bench:onnx [-- --model models/default] [--batches 1,8,16] [--reps 3] [--quick]`: image-token generation
// speed of one model with two engines side by side in one process: (a) tfjs (active backend, wasm by default) with
// its KV cache, (b) ONNX Runtime on one thread, prefill and decode step exported by lib/model/onnx. At each batch
// size (images per prompt), with the sampling settings the model's manifest recommends (`extra.sampling`; guidance
// doubles the rows). Prints one JSON object. Tokens/s counts image tokens (64 per 8×8 image) over the whole
// sampler call, prefill included. Run it on a quiet machine: with training on the other core, absolute numbers
// mean little (ratios taken in the same run are steadier).
import path from "node:path";
import { z } from "zod";
import { samplingDefaultsFor } from "../../lib/generate/sampling-defaults";
import { onnxDecoderFor, releaseOnnxDecoder } from "../../lib/model/onnx/decoder-session";
import { sampleImageCodesOnnx } from "../../lib/model/onnx/sample";
import { sampleImageCodes, type SampleOptions } from "../../lib/model/sample";
import { Transformer } from "../../lib/model/transformer";
import { imageTokens } from "../../lib/model/transformer-config";
import { initBackend } from "../../lib/tensor/backend";
import { loadTextTokenizer } from "../../lib/text/tokenizer";
import { flag, numberList, parseFlags, runMain } from "../cli";
import { best } from "./models";

const Flags = z.object({
  model: z.string().default(path.join("models", "default")),
  batches: numberList("--batches")
    .refine((b) => b.every((n) => Number.isInteger(n) && n >= 1), "whole numbers ≥ 1 (images per prompt)")
    .default([1, 8, 16]),
  reps: z.coerce.number().int().min(1).max(20).default(3),
  quick: flag(),
  prompt: z.string().default("grinning face"),
});

type Engine = typeof sampleImageCodes;

runMain("bench:onnx", async () => {
  const flags = parseFlags(
    process.argv.slice(2),
    Flags,
    "usage: npm run bench:onnx -- [--model DIR] [--batches 1,8,16] [--reps N] [--quick] [--prompt TEXT]",
  );
  const backend = await initBackend({ log: { info() {}, warn: console.warn } });
  const { model, manifest } = Transformer.load(flags.model);
  const text = await loadTextTokenizer(flags.model);
  const c = model.config;
  const sampling = samplingDefaultsFor(flags.model);
  const ids = text.encode(flags.prompt, c.textLen).ids;
  const nul = text.encodeNull(c.textLen);
  const perImage = imageTokens(c);
  const reps = flags.quick ? 1 : flags.reps;
  const base = { guidance: sampling.guidance, temperature: sampling.temperature, topK: sampling.topK, seed: 1 };

  const exportStart = performance.now();
  const decoder = await onnxDecoderFor(model);
  const exportMs = performance.now() - exportStart;

  const engines: Record<string, Engine> = { tfjs: sampleImageCodes, onnx: sampleImageCodesOnnx };
  const batches: Record<string, Record<string, number>> = {};
  const agreement: Record<string, { images: number; identicalImages: number; identicalTokens: number }> = {};
  for (const n of flags.batches) {
    const o: SampleOptions = { ...base, n };
    const row: Record<string, number> = {};
    for (const [name, engine] of Object.entries(engines))
      row[`${name}TokensPerS`] = (n * perImage) / (await best(reps, () => engine(model, ids, nul, o)));
    row.speedup = row.onnxTokensPerS / row.tfjsTokensPerS;
    batches[`b${n}`] = row;
    // Same seed, same codes? (Different only where float32 rounding moves a draw across a boundary.)
    const [a, b] = [await sampleImageCodes(model, ids, nul, o), await sampleImageCodesOnnx(model, ids, nul, o)];
    const same = a.map((g, i) => g.reduce((s, v, j) => s + (v === b[i][j] ? 1 : 0), 0));
    agreement[`b${n}`] = {
      images: n,
      identicalImages: same.filter((s) => s === perImage).length,
      identicalTokens: same.reduce((x, y) => x + y, 0),
    };
  }

  console.log(
    JSON.stringify(
      {
        time: new Date().toISOString(),
        model: flags.model,
        config: { nLayer: c.nLayer, nHead: c.nHead, nEmbd: c.nEmbd, imageVocab: c.imageVocab, textLen: c.textLen },
        step: manifest.step,
        tfjsBackend: `${backend.name} (${backend.detail})`,
        onnx: {
          stepNodes: decoder.graph.nodes,
          prefillNodes: decoder.prefillGraph.nodes,
          exportAndSessionMs: Math.round(exportMs),
          threads: 1,
        },
        sampling: { ...base, rowsPerImage: sampling.guidance === 1 ? 1 : 2 },
        tokensPerImage: perImage,
        reps,
        batches,
        agreement,
      },
      null,
      2,
    ),
  );
  await releaseOnnxDecoder(model);
  model.dispose();
});
