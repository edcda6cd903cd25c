// `npm run eval:compose -- <model folder> [--modes caption,label,compose:0.5,lead:0.5,lead:1] [--guidance 2]
//   [--temperature 0.7] [--prompts 48] [--images 4] [--seed 1] [--json FILE]`
// Can the transformer draw a label in a style it never saw it in (issue 29's held-out pairs)? On eval:gpt's two
// stratified prompt sets (held-out test captions, in-distribution train captions), each mode of
// training/gpt/compose-modes.ts — the whole caption, the label alone, or one led by the other through a composable
// guidance term — is sampled and every picture scored by its nearest real image: its label (exact, family @1/@5,
// as eval:gpt) and its style (style@1: the nearest real image is in the prompt's style), beside the variety of each
// prompt's pictures. Prints a table and writes JSON.
import fs from "node:fs";
import { z } from "zod";
import type { CaptionRecord } from "../lib/data/manifest";
import { batchSamplerFor } from "../lib/generate/engine";
import { initBackend } from "../lib/tensor/backend";
import { parseFlags, runMain } from "./cli";
import { modeTexts, parseComposeModes } from "./gpt/compose-modes";
import { loadEvalContext, retrievalPool } from "./gpt/eval-context";
import { labelOf, mean, score, stratifiedPrompts, styleOf, zeroScores, type Scores } from "./gpt/eval-sets";
import { sampleAndMatch, type ChunkScorer } from "./gpt/sample-score";
import { varietyColumns, VarietyTally, type Variety } from "./gpt/variety";
import { Progress } from "./progress";

const USAGE =
  "usage: npm run eval:compose -- <model folder> [--modes caption,label,compose:W,lead:W] [--guidance S] [--temperature T] [--prompts N] [--images N] [--seed N] [--data DIR] [--json FILE]";
const Flags = z.object({
  modes: z.string().default("caption,label,compose:0.5,lead:0.5,lead:1"),
  guidance: z.coerce.number().min(1).max(20).default(2),
  temperature: z.coerce.number().positive().max(10).default(0.7),
  prompts: z.coerce.number().int().min(1).max(1000).default(48),
  images: z.coerce.number().int().min(2).max(16).default(4),
  seed: z.coerce.number().int().min(0).default(1),
  data: z.string().default("data/datasets/emoji"),
  json: z.string().optional(),
});

type Row = Scores & { style1: number; variety: Variety };

runMain("eval:compose", async () => {
  const [dir, ...rest] = process.argv.slice(2);
  if (!dir || dir.startsWith("--")) throw new Error(USAGE);
  const flags = parseFlags(rest, Flags, USAGE);
  const modes = parseComposeModes(flags.modes);
  await initBackend();
  const ctx = await loadEvalContext(dir, flags.data);
  const { gpt, vq, tok, caps } = ctx;
  const c = gpt.config;
  const pool = retrievalPool(ctx);
  const scorer: ChunkScorer = { sample: await batchSamplerFor("onnx"), gpt, vq, pool, nullText: tok.encodeNull(c.textLen) };
  const ids = (text: string) => tok.encode(text, c.textLen).ids;
  const sets: Record<string, CaptionRecord[]> = {
    heldout: stratifiedPrompts(caps.test, flags.prompts, flags.seed),
    train: stratifiedPrompts(caps.train, flags.prompts, flags.seed),
  };
  const batch = 16;
  const results: Record<string, Record<string, Row>> = { heldout: {}, train: {} };
  const bar = new Progress("eval:compose", modes.length * 2 * flags.prompts);
  try {
    for (const m of modes)
      for (const [name, prompts] of Object.entries(sets)) {
        const s = zeroScores();
        const variety = new VarietyTally();
        let styleHits = 0;
        for (let start = 0; start < prompts.length; start += batch) {
          const chunk = prompts.slice(start, start + batch).map((r) => ({ r, ...modeTexts(r, m) }));
          const neighbours = await sampleAndMatch(
            scorer,
            chunk.map((x) => ids(x.prompt)),
            {
              n: flags.images,
              guidance: flags.guidance,
              temperature: flags.temperature,
              seed: flags.seed * 100_003 + start,
              ...(m.weight ? { terms: [{ texts: chunk.map((x) => ids(x.term!.text)), weight: m.weight }] } : {}),
            },
            variety,
          );
          neighbours.forEach((nb, i) => {
            const { r } = chunk[Math.floor(i / flags.images)];
            score(s, nb, pool.labels, labelOf(r));
            if (pool.styles[nb[0]] === styleOf(r)) styleHits++;
          });
          bar.tick(chunk.length, m.name);
        }
        const images = prompts.length * flags.images;
        results[name][m.name] = { ...mean(s, images), style1: styleHits / images, variety: variety.result() };
      }
  } finally {
    pool.dispose();
  }
  bar.finish();
  const pct = (x: number) => `${(100 * x).toFixed(1)}`.padStart(5);
  console.log(
    `s ${flags.guidance} T ${flags.temperature}, ${flags.images} images × ${flags.prompts} prompts a set: exact@1 family@1 style@1 | variety (pair distance, near-copy %, distinct labels)`,
  );
  for (const name of Object.keys(sets))
    for (const m of modes) {
      const r = results[name][m.name];
      console.log(
        `${name.padEnd(8)} ${m.name.padEnd(12)} ${pct(r.exact1)} ${pct(r.family1)} ${pct(r.style1)} | ${varietyColumns(r.variety)}`,
      );
    }
  const out = {
    model: dir,
    guidance: flags.guidance,
    temperature: flags.temperature,
    prompts: flags.prompts,
    images: flags.images,
    seed: flags.seed,
    results,
  };
  if (flags.json) {
    fs.writeFileSync(flags.json, JSON.stringify(out, null, 2) + "\n");
    console.log(`wrote ${flags.json}`);
  }
});
