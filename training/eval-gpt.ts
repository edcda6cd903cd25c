// `npm run eval:gpt -- <model folder> [--prompts 48] [--images 4] [--guidance 1,1.25,1.5,2,3] [--temperature 0.3,0.7,1]
//   [--top-k 0] [--json FILE] [--sheet FILE] [--clip DIR] [--candidates 48] [--max-near-copies 0.1] [--choose-on first|served] [--write-defaults]`
// An eval that can see quality (training/gpt/eval-sets.ts): on two seeded, stratified prompt sets — held-out test
// captions and in-distribution train captions — it generates `images` pictures per prompt for every sampling
// setting of the sweep and scores each by its nearest real images (exact label and label family, @1 and @5),
// beside the ceiling (the image tokenizer's reconstruction of the true image, scored the same way) and chance.
// It also reports the image-token loss on val, test and a fixed train subset (memorisation), and the
// conditioning gap on val (caption vs <null> vs a shuffled caption). Beside accuracy, each setting's variety among
// one prompt's pictures (training/gpt/variety.ts); the recommended default is chosen by both (gpt/choose-defaults.ts)
// and --write-defaults stores it, with its variety, in the model's manifest (`extra.sampling`), which the server
// and the Create form read. At that setting it also draws a contact
// sheet (training/gpt/contact-sheet.ts): 8 prompts of each set, the real image beside 4 generated ones. With a
// CLIP (--clip, default the model's clip/ folder) it also measures what reranking `candidates` pictures buys at
// that setting, at equal n (training/gpt/rerank-eval.ts). With a CLIP, every setting is also reranked and the
// defaults are judged on the served pictures (CLIP's best n of `candidates`, kept apart: what a person sees, since
// the server reranks whenever the model has a CLIP); --choose-on first judges the first n as sampled instead, the
// only choice without a CLIP.
import fs from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { z } from "zod";
import { batchTensor } from "../lib/data/batches";
import type { CaptionRecord, Split } from "../lib/data/manifest";
import { batchSamplerFor } from "../lib/generate/engine";
import { CANDIDATES_FALLBACK, CANDIDATES_LIMIT } from "../lib/generate/params";
import { imageTokens } from "../lib/model/transformer-config";
import { initBackend } from "../lib/tensor/backend";
import { loadTextTokenizer, tokeniseCaptions } from "../lib/text/tokenizer";
import { loadEvalContext, retrievalPool } from "./gpt/eval-context";
import { numberList, parseFlags, runMain } from "./cli";
import { encodeShard } from "./gpt/codes";
import { chance, labelOf, mean, score, stratifiedPrompts, styleOf, zeroScores, type Scores } from "./gpt/eval-sets";
import { validationLoss, type GptData } from "./gpt/task";
import { updateSamplingDefaults } from "./gpt/sampling-defaults";
import { writeContactSheet } from "./gpt/contact-sheet";
import { rerankComparison, type RerankRow } from "./gpt/rerank-eval";
import { Clip } from "../lib/model/clip";
import { Progress } from "./progress";
import { sampleAndMatch, type ChunkScorer } from "./gpt/sample-score";
import { varietyColumns, VarietyTally, type Variety } from "./gpt/variety";
import { chooseDefaults, chooseOnServed, defaultsFor, settingName, type SweepRow } from "./gpt/choose-defaults";

const USAGE =
  "usage: npm run eval:gpt -- <model folder> [--data DIR] [--prompts N] [--images N] [--guidance LIST] [--temperature LIST] [--top-k LIST] [--batch N] [--engine onnx|tfjs] [--seed N] [--json FILE] [--sheet FILE] [--clip DIR] [--candidates N] [--max-near-copies X] [--choose-on first|served] [--write-defaults]";
const list = numberList;
const Flags = z.object({
  data: z.string().default(path.join("data", "datasets", "emoji")),
  prompts: z.coerce.number().int().min(1).max(1000).default(48),
  /** Pictures per prompt: variety is measured among them, so at least 2; 4 is what the Create form asks for. */
  images: z.coerce.number().int().min(2, "variety needs at least 2 pictures per prompt").max(16).default(4),
  guidance: list("--guidance").default([1, 1.25, 1.5, 2, 3]),
  temperature: list("--temperature").default([0.3, 0.7, 1]),
  topK: list("--top-k").default([0]),
  batch: z.coerce.number().int().min(1).max(64).default(8),
  /** What runs the transformer: the server's default (ONNX Runtime), or tfjs (lib/generate/engine.ts). */
  engine: z.enum(["onnx", "tfjs"]).default("onnx"),
  seed: z.coerce.number().int().min(0).default(1),
  json: z.string().optional(),
  sheet: z.string().optional(),
  clip: z.string().optional(),
  candidates: z.coerce.number().int().min(2).max(CANDIDATES_LIMIT).default(CANDIDATES_FALLBACK.default),
  /** The largest share of prompts whose pictures are near-copies that a default may have (training/gpt/variety.ts). */
  maxNearCopies: z.coerce.number().min(0).max(1).default(0.1),
  /**
   * Which pictures the defaults are judged on: the first `images` as sampled, or the served ones — CLIP's best
   * `images` of `candidates`, kept apart, what a person sees (every setting reranked: `candidates`/`images` × the
   * sampling). Needs a CLIP. Default: "served" when there is one (the server then reranks), else "first".
   */
  chooseOn: z.enum(["first", "served"]).optional(),
  writeDefaults: z
    .enum(["true", "false"])
    .optional()
    .transform((v) => v === "true"),
});

type SetName = "heldout" | "train";

runMain("eval:gpt", async () => {
  const [dir, ...rest] = process.argv.slice(2);
  if (!dir || dir.startsWith("--")) throw new Error(USAGE);
  const flags = parseFlags(
    rest.map((a) => (a === "--write-defaults" ? "--write-defaults=true" : a)),
    Flags,
    USAGE,
  );
  await initBackend();
  const { gpt, manifest, vq, tok, shards, caps, exemplars } = await loadEvalContext(dir, flags.data);
  const c = gpt.config;
  const n = imageTokens(c);
  const size = vq.config.imageSize;
  // The first `limit` items of a split (the losses below read no more): encoding all 13k train images would
  // take minutes for nothing.
  const limit = 512;
  const gptData = (split: Split, texts?: string[]): GptData => {
    const count = Math.min(limit, shards[split].count);
    const shard = { ...shards[split], count, data: shards[split].data.subarray(0, count * size * size * 3) };
    const text = tokeniseCaptions(tok, (texts ?? caps[split].map((r) => r.caption)).slice(0, count), c.textLen).ids;
    return { count, text, codes: encodeShard(vq, shard, split) };
  };

  // Token losses: generalisation (val, test), memorisation (a fixed train subset), and how much the caption steers.
  const val = gptData("val");
  const nullCaps = caps.val.map(() => "");
  // Half the split away: neighbours in file order are often the same emoji in another style or skin tone.
  const shuffled = caps.val.map((_, i) => caps.val[(i + Math.floor(caps.val.length / 2)) % caps.val.length].caption);
  const losses = {
    val: (await validationLoss(gpt, val, limit)).imageNats,
    test: (await validationLoss(gpt, gptData("test"), limit)).imageNats,
    trainSubset: (await validationLoss(gpt, gptData("train"), limit)).imageNats,
    valNullCaption: (await validationLoss(gpt, { ...val, text: tokeniseCaptions(tok, nullCaps, c.textLen).ids }, limit)).imageNats,
    valShuffledCaption: (await validationLoss(gpt, { ...val, text: tokeniseCaptions(tok, shuffled, c.textLen).ids }, limit)).imageNats,
  };

  // The retrieval pool: every image of the corpus, with its label.
  const pool = retrievalPool({ shards, caps });
  const { labels } = pool;

  const sets: Record<SetName, { split: Split; prompts: CaptionRecord[] }> = {
    heldout: { split: "test", prompts: stratifiedPrompts(caps.test, flags.prompts, flags.seed) },
    train: { split: "train", prompts: stratifiedPrompts(caps.train, flags.prompts, flags.seed) },
  };

  // Ceiling: the tokenizer's reconstruction of each prompt's own image, scored like a generated one.
  const ceiling = {} as Record<SetName, Scores>;
  const chanceScores = {} as Record<SetName, Scores>;
  for (const [name, set] of Object.entries(sets) as [SetName, (typeof sets)[SetName]][]) {
    const s = zeroScores();
    const images = tf.tidy(() => {
      const x = batchTensor(
        shards[set.split],
        set.prompts.map((r) => r.index),
      );
      return tf.reshape(vq.decode(vq.encode(x)), [set.prompts.length, -1]) as tf.Tensor2D;
    });
    pool.neighbours(images).forEach((nb, i) => score(s, nb, labels, labelOf(set.prompts[i])));
    images.dispose();
    ceiling[name] = mean(s, set.prompts.length);
    chanceScores[name] = chance(set.prompts, labels);
  }

  const clipDir = flags.clip ?? (fs.existsSync(path.join(dir, "clip", "manifest.json")) ? path.join(dir, "clip") : null);
  if (flags.chooseOn === "served" && !clipDir)
    throw new Error("--choose-on served needs a CLIP: --clip DIR, or a clip/ folder in the model's");
  const chooseOn = flags.chooseOn ?? (clipDir ? "served" : "first");
  // Loaded before the sweep, so that a bad --clip stops the eval before its minutes of sampling.
  const clip = clipDir ? { model: Clip.load(clipDir).model, text: await loadTextTokenizer(clipDir) } : null;
  const nul = tok.encodeNull(c.textLen);
  const sample = await batchSamplerFor(flags.engine);
  const scorer: ChunkScorer = { sample, gpt, vq, pool, nullText: nul };
  const settings = flags.guidance.flatMap((guidance) =>
    flags.temperature.flatMap((temperature) => flags.topK.map((k) => ({ guidance, temperature, topK: k || undefined }))),
  );
  const sweep: (SweepRow & { byStyle: Record<SetName, Record<string, Scores>> })[] = [];
  const bar = new Progress("eval:gpt", settings.length * 2 * flags.prompts);
  for (const setting of settings) {
    const row = {
      guidance: setting.guidance,
      temperature: setting.temperature,
      topK: setting.topK ?? null,
      heldout: zeroScores(),
      train: zeroScores(),
      byStyle: { heldout: {}, train: {} } as Record<SetName, Record<string, Scores>>,
      variety: {} as Record<SetName, Variety>,
    };
    for (const [name, set] of Object.entries(sets) as [SetName, (typeof sets)[SetName]][]) {
      const counts: Record<string, number> = {};
      const variety = new VarietyTally();
      for (let start = 0; start < set.prompts.length; start += flags.batch) {
        const chunk = set.prompts.slice(start, start + flags.batch);
        const neighbours = await sampleAndMatch(
          scorer,
          chunk.map((r) => tok.encode(r.caption, c.textLen).ids),
          { n: flags.images, ...setting, seed: flags.seed * 100_003 + start },
          variety,
        );
        neighbours.forEach((nb, i) => {
          const r = chunk[Math.floor(i / flags.images)];
          score(row[name], nb, labels, labelOf(r));
          const st = (row.byStyle[name][styleOf(r)] ??= zeroScores());
          score(st, nb, labels, labelOf(r));
          counts[styleOf(r)] = (counts[styleOf(r)] ?? 0) + 1;
        });
        bar.tick(chunk.length, `s=${setting.guidance} T=${setting.temperature}`);
      }
      row[name] = mean(row[name], set.prompts.length * flags.images);
      row.variety[name] = variety.result();
      for (const [st, k] of Object.entries(counts)) row.byStyle[name][st] = mean(row.byStyle[name][st], k);
    }
    sweep.push(row);
  }
  bar.finish();

  type Reranked = { clip: string; candidates: number; heldout: RerankRow; train: RerankRow };
  /** A sweep row as the sampler's setting. */
  const asSetting = (r: SweepRow) => ({ guidance: r.guidance, temperature: r.temperature, topK: r.topK ?? undefined });
  let rerank: Reranked | null = null;
  let servedRows: (typeof sweep)[number][] | null = null;
  let choice: ReturnType<typeof chooseDefaults<(typeof sweep)[number]>>;
  try {
    /** The served pictures at one setting, both prompt sets (training/gpt/rerank-eval.ts). */
    const rerankAt = async (setting: { guidance: number; temperature: number; topK?: number }): Promise<Reranked> => {
      const rbar = new Progress("rerank", 2 * flags.prompts);
      const row = (set: (typeof sets)[SetName]) =>
        rerankComparison({
          gpt,
          vq,
          tok,
          clip: clip!,
          exemplars,
          prompts: set.prompts,
          setting,
          candidates: flags.candidates,
          images: flags.images,
          seed: flags.seed,
          neighbours: (q) => pool.neighbours(q),
          sample,
          labels,
          onPrompt: () => rbar.tick(1, settingName({ ...setting, topK: setting.topK ?? null })),
        });
      const r = { clip: clipDir!, candidates: flags.candidates, heldout: await row(sets.heldout), train: await row(sets.train) };
      rbar.finish();
      return r;
    };
    if (chooseOn === "served") {
      // Each setting judged on what the server shows: the kept pictures' accuracy and variety.
      const reranks: Reranked[] = [];
      for (const r of sweep) reranks.push(await rerankAt(asSetting(r)));
      const onServed = chooseOnServed(sweep, reranks, flags.maxNearCopies);
      servedRows = onServed.served;
      choice = onServed;
      rerank = reranks[sweep.indexOf(choice.chosen)];
    } else {
      choice = chooseDefaults(sweep, flags.maxNearCopies);
      if (clip) rerank = await rerankAt(asSetting(choice.chosen));
    }
  } finally {
    clip?.model.dispose();
  }
  const best = choice.chosen;
  const setting = asSetting(best);
  pool.dispose();

  const defaults = defaultsFor(choice, { images: flags.images, maxNearCopies: flags.maxNearCopies, rerank, judgedOn: chooseOn });
  const pct = (x: number) => `${(100 * x).toFixed(1)}`.padStart(5);
  const line = (s: Scores) => `${pct(s.exact1)} ${pct(s.exact5)} ${pct(s.family1)} ${pct(s.family5)}`;
  console.log(
    `\nimage-token loss (nats): val ${losses.val.toFixed(4)}, test ${losses.test.toFixed(4)}, train subset ${losses.trainSubset.toFixed(4)}; val with <null> ${losses.valNullCaption.toFixed(4)}, with a shuffled caption ${losses.valShuffledCaption.toFixed(4)} (uniform ${Math.log(c.imageVocab).toFixed(3)})`,
  );
  console.log(`retrieval, % of ${flags.images} images × ${flags.prompts} prompts per set: exact@1 exact@5 family@1 family@5`);
  console.log(`variety of one prompt's ${flags.images}: pair distance (mean abs. diff., levels 0–255), near-copy %, distinct labels`);
  console.log(`${"".padEnd(24)} ${"held-out test".padEnd(23)}   ${"in-distribution train".padEnd(23)}   variety held-out    variety train`);
  console.log(`${"chance".padEnd(24)} ${line(chanceScores.heldout)}   ${line(chanceScores.train)}`);
  console.log(`${"ceiling (VQ recon)".padEnd(24)} ${line(ceiling.heldout)}   ${line(ceiling.train)}`);
  /** One table row per setting of the sweep (`rows[i]` measures `sweep[i]`), the chosen and most accurate marked. */
  const printRows = (rows: readonly SweepRow[]) =>
    rows.forEach((r, i) => {
      const mark = sweep[i] === best ? "  ← chosen" : sweep[i] === choice.mostAccurate ? "  ← most accurate" : "";
      const v = `${varietyColumns(r.variety.heldout)}   ${varietyColumns(r.variety.train)}`;
      console.log(`${settingName(r).padEnd(24)} ${line(r.heldout)}   ${line(r.train)}   ${v}${mark}`);
    });
  printRows(sweep);
  if (servedRows) {
    console.log(`served: CLIP's best ${flags.images} of ${flags.candidates}, kept apart, at each setting (what the choice is judged on)`);
    printRows(servedRows);
  }
  console.log(`chosen: ${defaults.measured.reason}`);
  console.log(
    `per style at the chosen setting (family@1 held-out / exact@1 train): ${Object.keys(best.byStyle.train)
      .sort()
      .map((st) => `${st} ${pct(best.byStyle.heldout[st]?.family1 ?? NaN).trim()} / ${pct(best.byStyle.train[st].exact1).trim()}`)
      .join(", ")}`,
  );
  if (rerank)
    for (const name of ["heldout", "train"] as const)
      console.log(
        `rerank ${name} (${flags.images} of ${flags.candidates} candidates at the chosen setting): off ${line(rerank[name].off)}, on ${line(rerank[name].on)}, oracle ${line(rerank[name].oracle)}; mean CLIP score ${rerank[name].clipOff.toFixed(3)} → ${rerank[name].clipOn.toFixed(3)}; variety off ${varietyColumns(rerank[name].varietyOff)}, on ${varietyColumns(rerank[name].varietyOn)}`,
      );
  const out = flags.json ?? path.join(dir, "eval-gpt.json");
  fs.writeFileSync(
    out,
    JSON.stringify(
      {
        model: dir,
        step: manifest.step,
        imageTokens: n,
        prompts: flags.prompts,
        images: flags.images,
        seed: flags.seed,
        losses,
        chance: chanceScores,
        ceiling,
        sweep,
        chooseOn,
        ...(servedRows ? { servedSweep: servedRows.map(({ byStyle: _, ...r }) => r) } : {}),
        best: defaults,
        mostAccurate: settingName(choice.mostAccurate),
        rerank,
      },
      null,
      2,
    ) + "\n",
  );
  console.log(`wrote ${out}`);
  const sheet = flags.sheet ?? path.join(dir, "contact-sheet.png");
  await writeContactSheet(
    gpt,
    vq,
    tok,
    [
      {
        title: "held-out test prompts (label–style pairs never trained on)",
        records: sets.heldout.prompts.slice(0, 8),
        shard: shards.test,
      },
      { title: "in-distribution train prompts", records: sets.train.prompts.slice(0, 8), shard: shards.train },
    ],
    setting,
    4,
    sheet,
    flags.seed,
    sample,
  );
  console.log(`contact sheet at ${JSON.stringify(setting)} → ${sheet}`);
  if (flags.writeDefaults) {
    updateSamplingDefaults(dir, defaults);
    console.log(`sampling defaults ${JSON.stringify(setting)} and their variety → ${path.join(dir, "manifest.json")}`);
  }
  gpt.dispose();
  vq.dispose();
});
