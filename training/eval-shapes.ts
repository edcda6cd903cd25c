// `npm run eval:shapes -- <model folder> [--data data/datasets/shapes] [--prompts 1000] [--train-prompts 500]
//   [--images 1] [--guidance LIST] [--temperature LIST] [--top-k LIST] [--batch 16] [--seed 1] [--candidates 48] [--rerank-prompts 200] [--json FILE]
//   [--sheet FILE] [--write-defaults]`
// The composition eval (issue 17). Every test caption of the shapes set holds at least one colour–shape pair no
// train scene has ("red triangle"); the model draws `images` pictures per caption and lib/data/shapes/score.ts
// grades each exactly — colour, shape, size, position or relation, object count (training/shapes/grade.ts). The
// same for val and train captions (in-distribution), and for the image tokenizer's reconstruction of the real
// images (the ceiling: what a perfect transformer could score through this tokenizer). Without sampling lists it
// grades at the model's own defaults (the manifest's `extra.sampling`, as the server does); with lists it sweeps
// them and picks the setting by **val** all-correct, so the held-out numbers are not selected on. With a CLIP in the
// folder it also grades reranking (training/shapes/rerank.ts): the first n of `candidates` pictures vs CLIP's best n.
import fs from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { z } from "zod";
import { batchTensor } from "../lib/data/batches";
import { captionsFor, loadSplit, readCaptions, readManifest, type CaptionRecord, type Split } from "../lib/data/manifest";
import { scoreImage, type Score } from "../lib/data/shapes/score";
import { CANDIDATES_FALLBACK, CANDIDATES_LIMIT, SAMPLING_FALLBACK, SamplingDefaults } from "../lib/generate/params";
import { loadModelBundle } from "../lib/generate/model-bundle";
import { batchSamplerFor } from "../lib/generate/engine";
import { initBackend } from "../lib/tensor/backend";
import { numberList, parseArgs, runMain } from "./cli";
import { writeContactSheet } from "./gpt/contact-sheet";
import { updateManifestExtra, updateSamplingDefaults } from "./gpt/sampling-defaults";
import { tensorToImages } from "./image-grid";
import { Progress } from "./progress";
import { gradeReport, gradeTable, type GradeReport } from "./shapes/grade";
import { shapesRerank } from "./shapes/rerank";

const USAGE =
  "usage: npm run eval:shapes -- <model folder> [--data DIR] [--prompts N] [--train-prompts N] [--images N] [--guidance LIST] [--temperature LIST] [--top-k LIST] [--batch N] [--engine onnx|tfjs] [--seed N] [--candidates N] [--rerank-prompts N] [--json FILE] [--sheet FILE] [--write-defaults]";
const Flags = z.object({
  data: z.string().default(path.join("data", "datasets", "shapes")),
  prompts: z.coerce.number().int().min(1).max(100_000).default(1000),
  trainPrompts: z.coerce.number().int().min(1).max(100_000).default(500),
  images: z.coerce.number().int().min(1).max(16).default(1),
  guidance: numberList("--guidance").optional(),
  temperature: numberList("--temperature").optional(),
  topK: numberList("--top-k").optional(),
  batch: z.coerce.number().int().min(1).max(64).default(16),
  /** What runs the transformer: the server's default (ONNX Runtime), or tfjs (lib/generate/engine.ts). */
  engine: z.enum(["onnx", "tfjs"]).default("onnx"),
  seed: z.coerce.number().int().min(0).default(1),
  candidates: z.coerce.number().int().min(2).max(CANDIDATES_LIMIT).default(CANDIDATES_FALLBACK.default),
  /** Captions per set for the rerank rows (each samples `candidates` pictures: 16× the cost of a plain row). */
  rerankPrompts: z.coerce.number().int().min(1).max(100_000).default(200),
  json: z.string().optional(),
  sheet: z.string().optional(),
  writeDefaults: z.union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")]).default(false),
});

const SETS = { heldout: "test", val: "val", train: "train" } as const satisfies Record<string, Split>;
type SetName = keyof typeof SETS;

runMain("eval:shapes", async () => {
  const { positional, flags } = parseArgs(process.argv.slice(2), Flags, USAGE);
  const dir = positional[0];
  const manifest = readManifest(flags.data);
  const heldOutPairs = z.array(z.string()).catch([]).parse(manifest.notes?.heldOutPairs);
  if (!heldOutPairs.length) throw new Error(`${flags.data} names no held-out pairs: is it the shapes set (npm run data -- --set shapes)?`);
  await initBackend();
  const bundle = await loadModelBundle(dir);
  const { transformer: gpt, imageTokenizer: vq, text: tok } = bundle;
  try {
    const records = readCaptions(flags.data);
    const size = vq.config.imageSize;
    const take = (split: Split, n: number) => captionsFor(records, split).slice(0, n);
    const sets: Record<SetName, CaptionRecord[]> = {
      heldout: take("test", flags.prompts),
      val: take("val", flags.trainPrompts),
      train: take("train", flags.trainPrompts),
    };
    const shards = Object.fromEntries(Object.values(SETS).map((s) => [s, loadSplit(flags.data, s, size, manifest)])) as Record<
      Split,
      ReturnType<typeof loadSplit>
    >;
    const scoresOf = (images: Uint8Array[], set: CaptionRecord[], per: number): Score[] =>
      images.map((img, i) => scoreImage(img, set[Math.floor(i / per)].caption));
    const grade = (images: Uint8Array[], set: CaptionRecord[], per: number): GradeReport =>
      gradeReport(scoresOf(images, set, per), heldOutPairs);
    /** Per setting, the held-out captions whose every picture was right (the Create page's example prompts). */
    const allRight = new Map<string, string[]>();

    // Ceiling: the real images, and the image tokenizer's reconstructions of them.
    const real = {} as Record<SetName, GradeReport>;
    const ceiling = {} as Record<SetName, GradeReport>;
    for (const [name, set] of Object.entries(sets) as [SetName, CaptionRecord[]][]) {
      const reals: Uint8Array[] = [];
      const recons: Uint8Array[] = [];
      for (let start = 0; start < set.length; start += 128) {
        const chunk = set.slice(start, start + 128);
        const x = batchTensor(
          shards[SETS[name]],
          chunk.map((r) => r.index),
        );
        const y = vq.reconstruct(x);
        try {
          reals.push(...(await tensorToImages(x)));
          recons.push(...(await tensorToImages(y)));
        } finally {
          tf.dispose([x, y]);
        }
      }
      real[name] = grade(reals, set, 1);
      ceiling[name] = grade(recons, set, 1);
    }

    const own = SamplingDefaults.safeParse(bundle.manifest.extra.sampling);
    const base = own.success ? own.data : SAMPLING_FALLBACK;
    const settings = (flags.guidance ?? [base.guidance]).flatMap((guidance) =>
      (flags.temperature ?? [base.temperature]).flatMap((temperature) =>
        (flags.topK ?? [base.topK]).map((k) => ({ guidance, temperature, topK: k || undefined })),
      ),
    );
    const nul = tok.encodeNull(gpt.config.textLen);
    const sample = await batchSamplerFor(flags.engine);
    const total = settings.length * Object.values(sets).reduce((a, s) => a + s.length, 0);
    const bar = new Progress("eval:shapes", total);
    const sweep: { guidance: number; temperature: number; topK: number | null; sets: Record<SetName, GradeReport> }[] = [];
    for (const setting of settings) {
      const graded = {} as Record<SetName, GradeReport>;
      for (const [name, set] of Object.entries(sets) as [SetName, CaptionRecord[]][]) {
        const images: Uint8Array[] = [];
        for (let start = 0; start < set.length; start += flags.batch) {
          const chunk = set.slice(start, start + flags.batch);
          const codes = await sample(
            gpt,
            chunk.map((r) => tok.encode(r.caption, gpt.config.textLen).ids),
            nul,
            { ...setting, n: flags.images, seed: flags.seed * 100_003 + start },
          );
          const pixels = vq.decodeCodes(codes); // [P·n, S, S, 3]
          try {
            images.push(...(await tensorToImages(pixels)));
          } finally {
            pixels.dispose();
          }
          bar.tick(chunk.length, `s=${setting.guidance} T=${setting.temperature} ${name}`);
        }
        const scores = scoresOf(images, set, flags.images);
        graded[name] = gradeReport(scores, heldOutPairs);
        if (name === "heldout")
          allRight.set(
            JSON.stringify(setting),
            set.filter((_, p) => scores.slice(p * flags.images, (p + 1) * flags.images).every((s) => s.pass)).map((r) => r.caption),
          );
      }
      sweep.push({ guidance: setting.guidance, temperature: setting.temperature, topK: setting.topK ?? null, sets: graded });
    }
    bar.finish();
    const best = [...sweep].sort((a, b) => (b.sets.val.allCorrect.rate ?? 0) - (a.sets.val.allCorrect.rate ?? 0))[0];
    const setting = { guidance: best.guidance, temperature: best.temperature, topK: best.topK ?? undefined };

    // With a CLIP in the folder: what reranking `candidates` pictures buys at that setting, held-out and train.
    let rerank: {
      candidates: number;
      heldout: { off: GradeReport; on: GradeReport };
      train: { off: GradeReport; on: GradeReport };
    } | null = null;
    if (bundle.clip) {
      const heldout = sets.heldout.slice(0, flags.rerankPrompts);
      const train = sets.train.slice(0, flags.rerankPrompts);
      const rbar = new Progress("rerank", heldout.length + train.length);
      const run = (prompts: CaptionRecord[]) =>
        shapesRerank({
          bundle,
          prompts,
          setting,
          candidates: flags.candidates,
          images: flags.images,
          seed: flags.seed,
          sample,
          heldOutPairs,
          onPrompt: () => rbar.tick(1),
        });
      rerank = { candidates: flags.candidates, heldout: await run(heldout), train: await run(train) };
      rbar.finish();
    }

    const label = { heldout: "held-out test", val: "val", train: "train" } as const;
    const rows = (Object.keys(sets) as SetName[]).flatMap((name) => [
      { name: `${label[name]}: real images`, report: real[name] },
      { name: `${label[name]}: ceiling (VQ recon)`, report: ceiling[name] },
      ...sweep.map((r) => ({
        name: `${label[name]}: s ${r.guidance} T ${r.temperature}${r.topK ? ` k ${r.topK}` : ""}${r === best ? " ←" : ""}`,
        report: r.sets[name],
      })),
    ]);
    if (rerank)
      for (const name of ["heldout", "train"] as const)
        rows.push(
          { name: `${label[name]}: rerank off (first ${flags.images} of ${rerank.candidates})`, report: rerank[name].off },
          { name: `${label[name]}: rerank on (CLIP's best ${flags.images} of ${rerank.candidates})`, report: rerank[name].on },
        );
    console.log(`\n${gradeTable(rows)}\n`);
    const pct = (x: number | null) => (x === null ? "—" : `${(100 * x).toFixed(1)} %`);
    console.log(
      `held-out pairs at the chosen setting (all correct / the pair's object right): ${Object.entries(best.sets.heldout.byHeldOutPair)
        .map(([p, r]) => `${p} ${pct(r.allCorrect.rate)} / ${pct(r.pairCorrect.rate)} (n ${r.pairCorrect.n})`)
        .join("; ")}`,
    );
    const out = flags.json ?? path.join(dir, "eval-shapes.json");
    const json = {
      model: dir,
      step: bundle.manifest.step,
      images: flags.images,
      seed: flags.seed,
      prompts: Object.fromEntries(Object.entries(sets).map(([k, v]) => [k, v.length])),
      heldOutPairs,
      real,
      ceiling,
      sweep,
      rerank,
      best: { guidance: best.guidance, temperature: best.temperature, topK: best.topK },
    };
    fs.writeFileSync(out, JSON.stringify(json, null, 2) + "\n");
    console.log(`wrote ${out}`);
    const sheet = flags.sheet ?? path.join(dir, "contact-sheet.png");
    await writeContactSheet(
      gpt,
      vq,
      tok,
      [
        {
          title: "held-out test captions (each has a colour–shape pair never trained on)",
          records: sets.heldout.slice(0, 12),
          shard: shards.test,
        },
        { title: "in-distribution train captions", records: sets.train.slice(0, 6), shard: shards.train },
      ],
      setting,
      4,
      sheet,
      flags.seed,
      sample,
    );
    console.log(`contact sheet at ${JSON.stringify(setting)} → ${sheet}`);
    if (flags.writeDefaults) {
      updateSamplingDefaults(dir, json.best);
      // Example prompts: held-out captions the model drew right at that setting, one- and two-object alike.
      const right = [...new Set(allRight.get(JSON.stringify(setting)) ?? [])];
      const one = right.filter((c) => !/ (left of|right of|above|below) /.test(c)).slice(0, 3);
      const examples = [...one, ...right.filter((c) => !one.includes(c)).slice(0, 6 - one.length)];
      if (examples.length) {
        updateManifestExtra(dir, { examples });
        console.log(`example prompts ${JSON.stringify(examples)} → ${path.join(dir, "manifest.json")}`);
      }
      console.log(`sampling defaults ${JSON.stringify(json.best)} → ${path.join(dir, "manifest.json")}`);
    }
  } finally {
    bundle.dispose();
  }
});
