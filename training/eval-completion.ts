// `npm run eval:completion -- <model folder> [--sources 24] [--images 4] [--keep-rows 2,4,6] [--guidance G]
//   [--temperature T] [--top-k K] [--engine onnx|tfjs] [--seed N] [--json FILE] [--sheet FILE]`
// Issue 32's eval of image priming: on seeded, stratified held-out (test) and train images, the transformer is
// given the image's caption and the first keepRows rows of its codes and writes the rest (training/gpt/
// completion.ts); each finished picture is scored by its nearest real images against the source's label (exact
// and family, @1 and @5) and by its pixel distance to the source, beside the same prompt with no rows kept. The
// settings default to the model's own (manifest `extra.sampling`, as the server uses). It also draws a contact
// sheet: the source, what was kept, and the completions, for each keepRows.
import path from "node:path";
import fs from "node:fs";
import { z } from "zod";
import { groupSamplerFor } from "../lib/generate/engine";
import { samplingDefaultsFor } from "../lib/generate/sampling-defaults";
import { initBackend } from "../lib/tensor/backend";
import { batchTensor } from "../lib/data/batches";
import { numberList, parseFlags, runMain } from "./cli";
import { keptPreview, runCompletion, sourceCodesOf, type CompletionRow } from "./gpt/completion";
import { contactSheetPng, type SheetRow } from "./gpt/contact-sheet";
import { loadEvalContext, retrievalPool } from "./gpt/eval-context";
import { stratifiedPrompts } from "./gpt/eval-sets";
import { tensorToImages } from "./image-grid";
import { Progress } from "./progress";

const USAGE =
  "usage: npm run eval:completion -- <model folder> [--data DIR] [--sources N] [--images N] [--keep-rows LIST] [--guidance G] [--temperature T] [--top-k K] [--batch N] [--engine onnx|tfjs] [--seed N] [--json FILE] [--sheet FILE]";
const Flags = z.object({
  data: z.string().default(path.join("data", "datasets", "emoji")),
  sources: z.coerce.number().int().min(1).max(1000).default(24),
  images: z.coerce.number().int().min(1).max(16).default(4),
  keepRows: numberList("--keep-rows").default([2, 4, 6]),
  guidance: z.coerce.number().min(1).max(20).optional(),
  temperature: z.coerce.number().gt(0).max(5).optional(),
  topK: z.coerce.number().int().min(0).optional(),
  batch: z.coerce.number().int().min(1).max(64).default(8),
  engine: z.enum(["onnx", "tfjs"]).default("onnx"),
  seed: z.coerce.number().int().min(0).default(1),
  json: z.string().optional(),
  sheet: z.string().optional(),
});
/** Sources per set drawn on the contact sheet. */
const SHEET_SOURCES = 4;

runMain("eval:completion", async () => {
  const [dir, ...rest] = process.argv.slice(2);
  if (!dir || dir.startsWith("--")) throw new Error(USAGE);
  const flags = parseFlags(rest, Flags, USAGE);
  await initBackend();
  const ctx = await loadEvalContext(dir, flags.data);
  const { gpt, vq, tok, shards, caps } = ctx;
  for (const k of flags.keepRows)
    if (!Number.isInteger(k) || k < 1 || k >= vq.grid)
      throw new Error(
        `--keep-rows: each must be a whole number 1–${vq.grid - 1} (this model's images have ${vq.grid} rows of codes), got ${k}`,
      );
  const defaults = samplingDefaultsFor(dir);
  const topK = flags.topK ?? defaults.topK ?? 0;
  const setting = {
    guidance: flags.guidance ?? defaults.guidance,
    temperature: flags.temperature ?? defaults.temperature,
    topK: topK > 0 ? topK : undefined,
  };
  const pool = retrievalPool(ctx);
  const sample = await groupSamplerFor(flags.engine);
  const sets = {
    heldout: { split: "test" as const, title: "held-out test images" },
    train: { split: "train" as const, title: "in-distribution train images" },
  };
  const bar = new Progress("eval:completion", 2 * flags.sources * (flags.keepRows.length + 1));
  const results: Record<string, CompletionRow[]> = {};
  const sections: { title: string; rows: SheetRow[] }[] = [];
  try {
    for (const [name, set] of Object.entries(sets)) {
      const sources = stratifiedPrompts(caps[set.split], flags.sources, flags.seed);
      const run = await runCompletion({
        gpt,
        vq,
        tok,
        sources,
        shard: shards[set.split],
        keepRows: flags.keepRows,
        images: flags.images,
        setting,
        seed: flags.seed,
        batch: flags.batch,
        sample,
        pool,
        keepPictures: SHEET_SOURCES,
        onChunk: (n) => bar.tick(n, name),
      });
      results[name] = run.rows;
      const shown = sources.slice(0, SHEET_SOURCES);
      const codes = sourceCodesOf(vq, shards[set.split], shown);
      const realT = batchTensor(
        shards[set.split],
        shown.map((r) => r.index),
      );
      const reals = await tensorToImages(realT);
      realT.dispose();
      const rows: SheetRow[] = [];
      // The kept-rows column of an unprimed row: nothing was given.
      const blank = new Uint8Array(vq.config.imageSize ** 2 * 3).fill(255);
      for (const [i, r] of shown.entries())
        for (const keep of [0, ...flags.keepRows])
          rows.push({
            caption: keep ? `${r.caption} · keep ${keep} rows` : `${r.caption} · no priming`,
            real: reals[i],
            samples: [keep ? await keptPreview(vq, codes[i], keep) : blank, ...run.pictures.get(keep)![i]],
          });
      sections.push({ title: `${set.title}: what was kept, then completions`, rows });
    }
  } finally {
    bar.finish();
    pool.dispose();
  }

  const pct = (x: number) => `${(100 * x).toFixed(1)}`.padStart(6);
  console.log(
    `\ncompletion at guidance ${setting.guidance}, temperature ${setting.temperature}, top-k ${setting.topK ?? "off"}: ${flags.images} pictures × ${flags.sources} sources per set, scored against the source's label`,
  );
  console.log(`${"set".padEnd(8)} ${"keep".padStart(4)}  exact@1 exact@5 family@1 family@5  distance  kept exact`);
  for (const [name, rows] of Object.entries(results))
    for (const r of rows)
      console.log(
        `${name.padEnd(8)} ${String(r.keepRows || "none").padStart(4)}  ${pct(r.exact1)}  ${pct(r.exact5)}  ${pct(r.family1)}   ${pct(r.family5)}   ${r.pixelDistance.toFixed(1).padStart(6)}   ${pct(r.keptExact)}`,
      );
  const out = flags.json ?? path.join(dir, "eval-completion.json");
  const summary = { model: dir, step: ctx.manifest.step, setting, sources: flags.sources, images: flags.images, seed: flags.seed, results };
  fs.writeFileSync(out, JSON.stringify(summary, null, 2) + "\n");
  console.log(`wrote ${out}`);
  const sheet = flags.sheet ?? path.join(dir, "completion-sheet.png");
  await contactSheetPng(sections, vq.config.imageSize, sheet);
  console.log(`contact sheet → ${sheet}`);
  gpt.dispose();
  vq.dispose();
});
