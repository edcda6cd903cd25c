// `npm run eval:examples -- <model folder> [--prompts 64] [--requests 2] [--images 4] [--candidates 48]
//   [--min-exact 0.75] [--count 6] [--per-style 2] [--seed 1] [--engine onnx|tfjs] [--json FILE] [--sheet FILE]
//   [--write-examples]`
// Chooses the Create page's example prompts by measurement (training/gpt/choose-examples.ts): `prompts` plain-label
// train captions (stratified over the styles; no skin-tone variants, which people rarely type) are each served
// `requests` times as the server serves a request — `candidates` pictures at the model's sampling defaults, the
// best `images` kept by its CLIP (training/gpt/rerank-eval.ts servedRequest) — and every kept picture is scored by
// its nearest real image. Prints the ranking, writes the JSON and a contact sheet of the chosen examples (caption,
// the real emoji, then every kept picture) for a person to look at, and with --write-examples stores them in the
// manifest's `extra.examples`, which the Create page lists.
import fs from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { z } from "zod";
import { batchTensor } from "../lib/data/batches";
import type { CaptionRecord } from "../lib/data/manifest";
import { batchSamplerFor } from "../lib/generate/engine";
import { CANDIDATES_FALLBACK, CANDIDATES_LIMIT } from "../lib/generate/params";
import { samplingDefaultsFor } from "../lib/generate/sampling-defaults";
import { Clip } from "../lib/model/clip";
import { initBackend } from "../lib/tensor/backend";
import { loadTextTokenizer } from "../lib/text/tokenizer";
import { parseFlags, runMain } from "./cli";
import { chooseExamples, type ExampleCandidate } from "./gpt/choose-examples";
import { contactSheetPng, type SheetRow } from "./gpt/contact-sheet";
import { loadEvalContext, retrievalPool } from "./gpt/eval-context";
import { labelOf, mean, score, stratifiedPrompts, styleOf, zeroScores } from "./gpt/eval-sets";
import { servedRequest } from "./gpt/rerank-eval";
import { updateManifestExtra } from "./gpt/sampling-defaults";
import { tensorToImages } from "./image-grid";
import { Progress } from "./progress";

const USAGE =
  "usage: npm run eval:examples -- <model folder> [--data DIR] [--prompts N] [--requests N] [--images N] [--candidates N] [--min-exact X] [--count N] [--per-style N] [--seed N] [--engine onnx|tfjs] [--clip DIR] [--json FILE] [--sheet FILE] [--write-examples]";
const Flags = z.object({
  data: z.string().default(path.join("data", "datasets", "emoji")),
  prompts: z.coerce.number().int().min(1).max(1000).default(64),
  requests: z.coerce.number().int().min(1).max(16).default(2),
  images: z.coerce.number().int().min(1).max(16).default(4),
  candidates: z.coerce.number().int().min(1).max(CANDIDATES_LIMIT).default(CANDIDATES_FALLBACK.default),
  minExact: z.coerce.number().min(0).max(1).default(0.75),
  count: z.coerce.number().int().min(1).max(8).default(6),
  perStyle: z.coerce.number().int().min(1).max(8).default(2),
  seed: z.coerce.number().int().min(0).default(1),
  engine: z.enum(["onnx", "tfjs"]).default("onnx"),
  clip: z.string().optional(),
  json: z.string().optional(),
  sheet: z.string().optional(),
  writeExamples: z
    .enum(["true", "false"])
    .optional()
    .transform((v) => v === "true"),
});

runMain("eval:examples", async () => {
  const [dir, ...rest] = process.argv.slice(2);
  if (!dir || dir.startsWith("--")) throw new Error(USAGE);
  const flags = parseFlags(
    rest.map((a) => (a === "--write-examples" ? "--write-examples=true" : a)),
    Flags,
    USAGE,
  );
  if (flags.candidates < flags.images) throw new Error(`--candidates (${flags.candidates}) must be at least --images (${flags.images})`);
  const clipDir = flags.clip ?? path.join(dir, "clip");
  if (!fs.existsSync(path.join(clipDir, "manifest.json")))
    throw new Error(`no CLIP at ${clipDir}: the server reranks with the model's clip/ folder; give one with --clip DIR`);
  await initBackend();
  const { gpt, vq, tok, shards, caps, manifest, exemplars } = await loadEvalContext(dir, flags.data);
  const clip = { model: Clip.load(clipDir).model, text: await loadTextTokenizer(clipDir) };
  const defaults = samplingDefaultsFor(dir);
  const setting = { guidance: defaults.guidance, temperature: defaults.temperature, topK: defaults.topK > 0 ? defaults.topK : undefined };
  const plain = caps.train.filter((r) => !labelOf(r).includes("skin tone"));
  const prompts = stratifiedPrompts(plain, flags.prompts, flags.seed);
  const pool = retrievalPool({ shards, caps });
  const sample = await batchSamplerFor(flags.engine);
  const bar = new Progress("eval:examples", prompts.length * flags.requests);
  const scored: (ExampleCandidate & { record: CaptionRecord; pictures: Uint8Array[] })[] = [];
  try {
    for (const [p, r] of prompts.entries()) {
      const s = zeroScores();
      let clipSum = 0;
      const pictures: Uint8Array[] = [];
      for (let q = 0; q < flags.requests; q++) {
        const served = await servedRequest({
          gpt,
          vq,
          tok,
          clip,
          exemplars,
          caption: r.caption,
          setting,
          candidates: flags.candidates,
          images: flags.images,
          seed: (flags.seed * 100_003 + p) * 31 + q,
          sample,
        });
        try {
          const kept = tf.tidy(() => tf.gather(served.pixels, served.kept) as tf.Tensor4D); // [n, S, S, 3]
          const flat = tf.reshape(kept, [served.kept.length, -1]) as tf.Tensor2D; // [n, S·S·3]
          try {
            for (const nb of pool.neighbours(flat)) score(s, nb, pool.labels, labelOf(r));
            pictures.push(...(await tensorToImages(kept)));
          } finally {
            tf.dispose([kept, flat]);
          }
          clipSum += served.kept.reduce((a, i) => a + served.scores[i], 0);
        } finally {
          served.pixels.dispose();
        }
        bar.tick(1, r.caption.slice(0, 24));
      }
      const n = flags.requests * flags.images;
      const m = mean(s, n);
      scored.push({
        caption: r.caption,
        label: labelOf(r),
        style: styleOf(r),
        exact: m.exact1,
        family: m.family1,
        clip: clipSum / n,
        record: r,
        pictures,
      });
    }
  } finally {
    bar.finish();
    pool.dispose();
  }

  const { chosen, eligible } = chooseExamples(scored, flags);
  const pct = (x: number) => `${(100 * x).toFixed(0)} %`.padStart(5);
  console.log(
    `\n${prompts.length} train prompts × ${flags.requests} requests × best ${flags.images} of ${flags.candidates} at guidance ${setting.guidance}, temperature ${setting.temperature}, top-k ${setting.topK ?? "off"}; exact@1 of the kept pictures:`,
  );
  for (const c of [...scored].sort((a, b) => b.exact - a.exact || b.family - a.family))
    console.log(`${pct(c.exact)} exact ${pct(c.family)} family  ${chosen.includes(c) ? "*" : " "} ${c.caption}`);
  const share = (f: (c: ExampleCandidate) => number) => scored.reduce((a, c) => a + f(c), 0) / Math.max(1, scored.length);
  console.log(
    `${eligible} of ${scored.length} prompts drew their own emoji in ≥ ${pct(flags.minExact).trim()} of their pictures (all prompts: exact ${pct(share((c) => c.exact)).trim()}, family ${pct(share((c) => c.family)).trim()}); chosen: ${JSON.stringify(chosen.map((c) => c.caption))}`,
  );

  const out = flags.json ?? path.join(dir, "eval-examples.json");
  const strip = ({ record: _r, pictures: _p, ...c }: (typeof scored)[number]) => c;
  const summary = {
    model: dir,
    step: manifest.step,
    setting,
    requests: flags.requests,
    images: flags.images,
    candidates: flags.candidates,
    minExact: flags.minExact,
    seed: flags.seed,
    eligible,
    chosen: chosen.map((c) => strip(c as (typeof scored)[number])),
    scored: scored.map(strip),
  };
  fs.writeFileSync(out, JSON.stringify(summary, null, 2) + "\n");
  console.log(`wrote ${out}`);

  const shown = chosen as (typeof scored)[number][];
  if (shown.length) {
    const realT = batchTensor(
      shards.train,
      shown.map((c) => c.record.index),
    );
    const reals = await tensorToImages(realT);
    realT.dispose();
    const rows: SheetRow[] = shown.map((c, i) => ({
      caption: `${c.caption} (${pct(c.exact).trim()} exact)`,
      real: reals[i],
      samples: c.pictures,
    }));
    const sheet = flags.sheet ?? path.join(dir, "examples-sheet.png");
    await contactSheetPng(
      [
        {
          title: `the Create page's examples: every picture the server kept over ${flags.requests} request${flags.requests === 1 ? "" : "s"}`,
          rows,
        },
      ],
      vq.config.imageSize,
      sheet,
    );
    console.log(`contact sheet → ${sheet}`);
  }
  if (flags.writeExamples) {
    if (!chosen.length) throw new Error(`no prompt met --min-exact ${flags.minExact}: the manifest's examples are left as they were`);
    updateManifestExtra(dir, { examples: chosen.map((c) => c.caption) });
    console.log(`example prompts → ${path.join(dir, "manifest.json")}`);
  }
});
