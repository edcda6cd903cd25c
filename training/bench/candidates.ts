// `npm run bench:candidates [-- --model models/default] [--candidates 16,32,48,64] [--reps 5]`: what a request's
// candidate count costs. The wall time of one 4-image request through the server's own path (generateImages:
// sampling with the model's measured defaults, decoding, CLIP and the exemplars' vote, typicality) at each count,
// the median of `reps` requests over five prompts after one warm-up at the smallest and the largest count. What the
// counts buy is eval:rerank's to say (`--candidates C`); the two together chose CANDIDATES_FALLBACK
// (lib/generate/params.ts). Prints one JSON object; run it on a quiet machine.
import { z } from "zod";
import { generateImages } from "../../lib/generate/generate";
import { loadModelBundle } from "../../lib/generate/model-bundle";
import { CANDIDATES_LIMIT } from "../../lib/generate/params";
import { samplingDefaultsFor } from "../../lib/generate/sampling-defaults";
import { initBackend } from "../../lib/tensor/backend";
import { numberList, parseFlags, runMain } from "../cli";

const Flags = z.object({
  model: z.string().default("models/default"),
  candidates: numberList("--candidates")
    .refine(
      (c) => c.every((n) => Number.isInteger(n) && n >= 4 && n <= CANDIDATES_LIMIT),
      `whole numbers from 4 (n) to ${CANDIDATES_LIMIT}`,
    )
    .default([16, 32, 48, 64]),
  reps: z.coerce.number().int().min(1).max(50).default(5),
});

const PROMPTS = ["rocket, openmoji", "thumbs up, twemoji", "red heart, twemoji", "man cook, noto", "cucumber, twemoji"];

runMain("bench:candidates", async () => {
  const flags = parseFlags(
    process.argv.slice(2),
    Flags,
    "usage: npm run bench:candidates -- [--model DIR] [--candidates 16,32,48,64] [--reps N]",
  );
  await initBackend({ log: { info() {}, warn() {} } });
  const bundle = await loadModelBundle(flags.model);
  try {
    if (!bundle.clip) throw new Error(`${flags.model} carries no CLIP: its requests sample n images and rank none`);
    const { guidance, temperature, topK } = samplingDefaultsFor(flags.model);
    const request = (candidates: number, seed: number, prompt: string) =>
      generateImages(bundle, { prompt, n: 4, guidance, temperature, topK: topK || undefined, seed, candidates });
    const counts = [...flags.candidates].sort((a, b) => a - b);
    await request(counts[0], 0, PROMPTS[0]);
    await request(counts[counts.length - 1], 0, PROMPTS[0]);
    const rows = [];
    for (const candidates of counts) {
      const ms: number[] = [];
      for (let r = 0; r < flags.reps; r++) {
        const t = performance.now();
        await request(candidates, 100 + r, PROMPTS[r % PROMPTS.length]);
        ms.push(performance.now() - t);
      }
      ms.sort((a, b) => a - b);
      rows.push({
        candidates,
        medianMs: Math.round(ms[Math.floor(ms.length / 2)]),
        minMs: Math.round(ms[0]),
        maxMs: Math.round(ms[ms.length - 1]),
      });
    }
    console.log(JSON.stringify({ model: flags.model, images: 4, guidance, temperature, reps: flags.reps, rows }));
  } finally {
    bundle.dispose();
  }
});
