// `npm run bench:onnx [-- --model models/default] [--batches 1,8,16] [--reps 3] [--quick] [--random] [--peer]`:
// image-token generation speed of one model with two engines side by side in one process: (a) tfjs (active backend,
// wasm by default) with its KV cache, (b) ONNX Runtime on one thread, prefill and decode step exported by
// lib/model/onnx. At each batch size (images per prompt), with the sampling settings the model's manifest
// recommends (`extra.sampling`; guidance doubles the rows). `--random`: instead, `npm run bench`'s transformer
// (DEFAULT_TRANSFORMER_CONFIG, random weights, guidance 1, temperature 1), the setting issue 18's targets name.
// `--peer`: at each batch size, right after ours, the same model in PyTorch on one thread
// (training/bench/peer_generate.py; Debian's python3-torch with OpenBLAS, PYTHON names the interpreter), so both are
// measured in the same window; and the training step (fwd + bwd + AdamW, batch 32) of the same config on our two
// engines and in PyTorch (training/bench/peer_train.py), under `training`. Prints one JSON object. Tokens/s counts image tokens (64 per 8×8 image) over the whole
// sampler call, prefill included. Run it on a quiet machine: with training on the other core, absolute numbers
// mean little (ratios taken in the same run are steadier).
import { execFileSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { samplingDefaultsFor } from "../../lib/generate/sampling-defaults";
import { onnxDecoderFor, releaseOnnxDecoder } from "../../lib/model/onnx/decoder-session";
import { sampleImageCodesOnnx } from "../../lib/model/onnx/sample";
import { sampleImageCodes, type SampleOptions } from "../../lib/model/sample";
import { Transformer } from "../../lib/model/transformer";
import { DEFAULT_TRANSFORMER_CONFIG, imageTokens, type TransformerConfig } from "../../lib/model/transformer-config";
import { initBackend } from "../../lib/tensor/backend";
import { registerFastGradients } from "../../lib/tensor/gradients";
import { loadTextTokenizer } from "../../lib/text/tokenizer";
import { flag, numberList, parseFlags, runMain } from "../cli";
import { best } from "./models";
import { gptTrainingRate } from "./training";

const Flags = z.object({
  model: z.string().default(path.join("models", "default")),
  batches: numberList("--batches")
    .refine((b) => b.every((n) => Number.isInteger(n) && n >= 1), "whole numbers ≥ 1 (images per prompt)")
    .default([1, 8, 16]),
  reps: z.coerce.number().int().min(1).max(20).default(3),
  quick: flag(),
  prompt: z.string().default("grinning face"),
  random: flag(),
  peer: flag(),
});

/** One JSON line from a PyTorch peer script (Debian's python3-torch; PYTHON names the interpreter). */
function runPeer<T>(script: string, args: string[]): T {
  const python = process.env.PYTHON ?? "/usr/bin/python3";
  // One OpenBLAS thread: with its own threads on top of torch's, it fights the other core (and collapses).
  const out = execFileSync(python, [path.join(import.meta.dirname, script), ...args], {
    env: { ...process.env, OPENBLAS_NUM_THREADS: "1", OMP_NUM_THREADS: "1" },
    encoding: "utf8",
  });
  return JSON.parse(out.trim().split("\n").at(-1)!) as T;
}

/** The PyTorch peer's generation tokens/s at one batch size (peer_generate.py). */
function peerTokensPerS(config: object, batch: number, reps: number, temperature: number): number {
  const args = [
    "--config",
    JSON.stringify(config),
    "--batches",
    String(batch),
    "--reps",
    String(reps),
    "--temperature",
    String(temperature),
  ];
  return runPeer<{ tokensPerS: Record<string, number> }>("peer_generate.py", args).tokensPerS[`b${batch}`];
}

/**
 * Training tokens/s of one config on both of our engines and the PyTorch peer (fwd + bwd + AdamW, batch 32), one
 * after the other in this run: the tfjs loop on one replica per core, the ONNX Runtime loop on every core (as one-thread
 * replicas, its default, and as one session's intra-op threads), PyTorch on one thread (the setting the quality anchor
 * measured; its 2-thread figure beside it).
 */
async function trainingComparison(c: TransformerConfig, quick: boolean) {
  const cores = Math.max(2, os.availableParallelism());
  const steps = quick ? 3 : 8;
  const tfjs = await gptTrainingRate(c, "tfjs", cores, steps);
  const ort = await gptTrainingRate(c, "ort", cores, 4 * steps);
  const ortOneSession = await gptTrainingRate(c, "ort", cores, 4 * steps, cores);
  const peer = (threads: number) =>
    runPeer<{ tokensPerS: number }>("peer_train.py", [
      "--config",
      JSON.stringify(c),
      "--batch",
      "32",
      "--steps",
      String(steps),
      "--threads",
      String(threads),
    ]).tokensPerS;
  const pytorch = peer(1);
  const pytorch2 = peer(2);
  return {
    batch: 32,
    cores,
    tokensPerS: { tfjs, ort, ortOneSession, pytorch1Thread: pytorch, pytorch2Threads: pytorch2 },
    ortOverTfjs: ort / tfjs,
    ortOverPytorch: ort / Math.max(pytorch, pytorch2),
  };
}

type Engine = typeof sampleImageCodes;

runMain("bench:onnx", async () => {
  const flags = parseFlags(
    process.argv.slice(2),
    Flags,
    "usage: npm run bench:onnx -- [--model DIR | --random] [--batches 1,8,16] [--reps N] [--quick] [--prompt TEXT] [--peer]",
  );
  const backend = await initBackend({ log: { info() {}, warn: console.warn } });
  registerFastGradients(); // the tfjs training row (--peer) differentiates embeddings on wasm
  const loaded = flags.random ? null : Transformer.load(flags.model);
  const model = loaded?.model ?? new Transformer({ ...DEFAULT_TRANSFORMER_CONFIG, dropout: 0 }, 1);
  const c = model.config;
  const text = loaded ? await loadTextTokenizer(flags.model) : null;
  const sampling = text ? samplingDefaultsFor(flags.model) : { guidance: 1, temperature: 1, topK: 0 };
  // Without a tokenizer (--random): the ids npm run bench uses.
  const ids = text?.encode(flags.prompt, c.textLen).ids ?? [5, 6, 7, ...Array(c.textLen - 3).fill(c.padId)];
  const nul = text?.encodeNull(c.textLen) ?? [2, ...Array(c.textLen - 1).fill(c.padId)];
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
    if (flags.peer) {
      if (sampling.guidance !== 1 || sampling.topK) throw new Error("--peer samples at guidance 1 without top-k: add --random");
      row.pytorchTokensPerS = peerTokensPerS(c, n, reps, sampling.temperature);
      row.onnxOverPytorch = row.onnxTokensPerS / row.pytorchTokensPerS;
    }
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
        model: flags.random ? "random weights, DEFAULT_TRANSFORMER_CONFIG (npm run bench's)" : flags.model,
        config: { nLayer: c.nLayer, nHead: c.nHead, nEmbd: c.nEmbd, imageVocab: c.imageVocab, textLen: c.textLen },
        step: loaded?.manifest.step ?? null,
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
        training: flags.peer ? await trainingComparison({ ...c, dropout: 0 }, flags.quick) : null,
      },
      null,
      2,
    ),
  );
  await releaseOnnxDecoder(model);
  model.dispose();
});
