// `npm run eval:rerank -- <model folder> --clip DIR[,DIR…] [--prompts 200] [--candidates 48] [--images 4]
//   [--guidance G] [--temperature T] [--seed 1] [--data DIR] [--json FILE] [--contrast W,…] [--evidence] [--by-score]`
// CLIPs compared as rerankers on the same candidates (issue 29 part 3): for every held-out and train prompt
// (stratified as in eval:gpt, the same seeds, so at 48 prompts the numbers equal eval:gpt's rerank block) the
// transformer samples `candidates` pictures once at the model's sampling defaults (or the setting given); each CLIP
// keeps `images` of them with the server's rerank(); every kept picture is scored by its nearest real image. Beside
// the CLIP rows: the first `images` as sampled ("off") and the oracle (training/gpt/rerank-eval.ts keptCeiling).
// Differences between CLIPs are paired (same prompts, same candidates): each row after the first gives its mean
// per-prompt difference from the first CLIP with a standard error, so noise can be told from a gain. Experiments
// ranked on the same candidates, beside the server's rule: --contrast (training/gpt/contrast-rerank.ts), --evidence
// (the transformer's own evidence for the prompt), --by-score (CLIP without the keep-apart rule), --label-mix (the
// caption's score mixed with the label alone's), --vote (the exemplar vote of lib/generate/exemplars.ts at other
// mixes than the folder's, its bank built from the dataset's training pictures). --named-by-others keeps only the
// prompts whose label is another family's keyword (what training/gpt/augment.ts's keyword filter is for). When the model folder carries an
// exemplar bank, the first CLIP ranks as the server does, with the bank's vote, and one more row gives that CLIP
// alone. The JSON keeps every prompt's scores (the first CLIP's as "served"), for `npm run eval:paired` between two
// models' runs.
import fs from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { z } from "zod";
import type { CaptionRecord } from "../lib/data/manifest";
import { batchSamplerFor } from "../lib/generate/engine";
import { CANDIDATES_FALLBACK, CANDIDATES_LIMIT } from "../lib/generate/params";
import { toLevels } from "../lib/generate/distinct";
import { exemplarPart, exemplarVotes } from "../lib/generate/exemplar-folder";
import { mixedScores, standardised } from "../lib/generate/exemplars";
import { rankApart, rankByScore, rerank } from "../lib/generate/rerank";
import { rowLosses } from "../lib/model/onnx/loss-session";
import { samplingDefaultsFor } from "../lib/generate/sampling-defaults";
import { Clip } from "../lib/model/clip";
import { initBackend } from "../lib/tensor/backend";
import { loadTextTokenizer } from "../lib/text/tokenizer";
import { flag, parseFlags, runMain } from "./cli";
import { loadEvalContext, retrievalPool } from "./gpt/eval-context";
import { familiesNamedByOthers, labelFamily } from "./gpt/augment";
import { labelOf, score, stratifiedPrompts, styleOf, zeroScores, type Scores } from "./gpt/eval-sets";
import { MEASURES, meanScores, pairedDifference } from "./gpt/paired";
import { candidateNeighbours, keptCeiling, sampleCandidates } from "./gpt/rerank-eval";
import { exemplarBankFrom } from "./gpt/exemplar-bank";
import { captionCosines, competitorsFrom, contrastScores, embedCaptions, nearestCaptions, type CaptionBank } from "./gpt/contrast-rerank";
import { Progress } from "./progress";

const USAGE =
  "usage: npm run eval:rerank -- <model folder> --clip DIR[,DIR…] [--prompts N] [--candidates N] [--images N] [--guidance G] [--temperature T] [--seed N] [--data DIR] [--heldout test|val] [--named-by-others] [--json FILE] [--contrast W,…] [--label-mix W,…] [--vote W,… [--vote-m M,…] [--vote-side S,…]] [--evidence] [--by-score]";

/** A comma-separated list of numbers, each checked by `item` ("0.5,1" → [0.5, 1]). */
const numbers = (item: z.ZodNumber) =>
  z
    .string()
    .transform((s) => s.split(",").filter(Boolean).map(Number))
    .pipe(z.array(item));

const Flags = z.object({
  clip: z.string().transform((s) => s.split(",").filter(Boolean)),
  prompts: z.coerce.number().int().min(2).max(1000).default(200),
  candidates: z.coerce.number().int().min(2).max(CANDIDATES_LIMIT).default(CANDIDATES_FALLBACK.default),
  images: z.coerce.number().int().min(1).max(16).default(4),
  guidance: z.coerce.number().min(0).optional(),
  temperature: z.coerce.number().positive().optional(),
  seed: z.coerce.number().int().min(0).default(1),
  data: z.string().default(path.join("data", "datasets", "emoji")),
  json: z.string().optional(),
  /**
   * Which split's captions make the held-out set: test (the default, the figures reported) or val (never-trained
   * pairs too, for choosing a reranker's settings without looking at test).
   */
  heldout: z.enum(["test", "val"]).default("test"),
  /**
   * Only prompts whose label family is a keyword of another family's training pictures ("rocket": the astronauts'
   * keyword), the prompts training/gpt/augment.ts's keyword filter is for; stratified as usual among them.
   */
  namedByOthers: flag(),
  /**
   * Also rank by the transformer's own evidence for the prompt (an experiment, not what the server does): per
   * candidate, its image-token NLL without the prompt minus with it, log p(codes | prompt) − log p(codes | null).
   */
  evidence: flag(),
  /** Also keep each CLIP's best n by score alone (no keep-apart rule), to show what the server's variety costs. */
  byScore: flag(),
  /**
   * Also rank by the first CLIP's score mixed with its score against the prompt's label alone (the caption without
   * its style), at these weights: (1 − W)·cos(image, caption) + W·cos(image, label). An experiment.
   */
  labelMix: numbers(z.number().min(0).max(1)).optional(),
  /**
   * Also rank by the first CLIP's score mixed with the vote of the training pictures nearest each candidate
   * (lib/generate/exemplars.ts: the mean cosine of the prompt with their captions), z(CLIP) + W·z(vote), at these
   * weights, each --vote-m (pictures that vote) and each --vote-side (the side pictures are compared at).
   */
  vote: numbers(z.number().min(0).max(1000)).optional(),
  voteM: numbers(z.number().int().min(1).max(64)).default([1]),
  voteSide: numbers(z.number().int().min(1).max(256)).default([32]),
  /**
   * Also rank by each CLIP's contrastive score at these weights (training/gpt/contrast-rerank.ts, an experiment):
   * the prompt's log-probability among near labels' captions ("near"), among every trained pair's ("all") and among
   * the 16 trained captions nearest it by CLIP's text embedding ("knn").
   */
  contrast: numbers(z.number().min(0).max(4)).optional(),
});

type SetName = "heldout" | "train";

/** How many nearest trained captions the "knn" contrast row competes the prompt against. */
const KNN = 16;

/** Per-prompt scores of one row (each prompt's share of kept pictures that hit), in prompt order. */
type PerPrompt = Scores[];
/** Per-prompt scores of a ranked row, with the share of its kept pictures whose nearest real image is in the prompt's style. */
type Kept = Scores & { style1: number };

runMain("eval:rerank", async () => {
  const [dir, ...rest] = process.argv.slice(2);
  if (!dir || dir.startsWith("--")) throw new Error(USAGE);
  const flags = parseFlags(rest, Flags, USAGE);
  if (!flags.clip.length) throw new Error(`give at least one CLIP folder with --clip\n${USAGE}`);
  for (const c of flags.clip)
    if (!fs.existsSync(path.join(c, "manifest.json")))
      throw new Error(`--clip ${c} has no manifest.json (a CLIP folder, e.g. models/default/clip)`);
  if (flags.images > flags.candidates) throw new Error(`--images ${flags.images} is more than --candidates ${flags.candidates}`);

  await initBackend();
  const { gpt, vq, tok, shards, caps, exemplars: served } = await loadEvalContext(dir, flags.data);
  const defaults = samplingDefaultsFor(dir);
  const setting = {
    guidance: flags.guidance ?? defaults.guidance,
    temperature: flags.temperature ?? defaults.temperature,
    topK: defaults.topK ?? undefined,
  };
  // One at a time: transformers.js loads tokenizers through a shared cache that concurrent loads trip over.
  const clips: { dir: string; part: { model: Clip; text: Awaited<ReturnType<typeof loadTextTokenizer>> } }[] = [];
  for (const c of flags.clip) clips.push({ dir: c, part: { model: Clip.load(c).model, text: await loadTextTokenizer(c) } });
  const pool = retrievalPool({ shards, caps });
  const sample = await batchSamplerFor("onnx");
  const named = flags.namedByOthers ? familiesNamedByOthers(caps.train) : null;
  const eligible = (records: CaptionRecord[]) =>
    named ? records.filter((r) => named.has(labelFamily(labelOf(r)).toLowerCase())) : records;
  const sets: Record<SetName, CaptionRecord[]> = {
    heldout: stratifiedPrompts(eligible(caps[flags.heldout]), flags.prompts, flags.seed),
    train: stratifiedPrompts(eligible(caps.train), flags.prompts, flags.seed),
  };
  if (sets.heldout.length < flags.prompts || sets.train.length < flags.prompts)
    console.warn(`only ${sets.heldout.length} held-out and ${sets.train.length} train prompts qualify (asked for ${flags.prompts} a set)`);
  // Contrast rows: for each CLIP, each competitor kind, each weight; ranked beside the plain CLIP rows.
  const competitors = competitorsFrom(caps.train, [...sets.heldout, ...sets.train]);
  const banks: CaptionBank[] = [];
  const scales: number[] = [];
  const contrasts: { clip: number; kind: "near" | "all" | "knn"; weight: number; name: string }[] = [];
  if (flags.contrast)
    for (const [k, c] of clips.entries()) {
      banks.push(
        await embedCaptions(c.part, [...competitors.captions, ...sets.heldout.map((r) => r.caption), ...sets.train.map((r) => r.caption)]),
      );
      const s = c.part.model.logitScale();
      scales.push((await s.data())[0]);
      s.dispose();
      for (const kind of ["near", "all", "knn"] as const)
        for (const weight of flags.contrast) contrasts.push({ clip: k, kind, weight, name: `${c.dir} contrast ${kind} w ${weight}` });
    }
  // With --evidence, one more row: the first CLIP's cosine and the transformer's evidence, each standardised over
  // the candidates, summed.
  const combined = `${flags.clip[0]} + transformer evidence (z-scores summed)`;
  // With --by-score, each CLIP also keeps its best n by score alone, without the keep-apart rule: what variety costs.
  const byScore = flags.byScore ? flags.clip.map((d) => `${d} by score alone (no keep-apart)`) : [];
  const mixes = (flags.labelMix ?? []).map((w) => ({ weight: w, name: `${flags.clip[0]} + label alone at ${w}` }));
  const labelBank = mixes.length ? await embedCaptions(clips[0].part, [...sets.heldout, ...sets.train].map(labelOf)) : null;
  // What the server ranks with: the folder's exemplar bank, when it has one (then one more row: CLIP alone).
  const imageSize = vq.config.imageSize;
  const alone = served ? [`${flags.clip[0]} alone (the folder's exemplar bank left out)`] : [];
  // One bank per side, one part (its mix of m neighbours) per side and m, one row per weight of each part.
  const votes = (flags.vote?.length ? flags.voteSide : []).flatMap((side) => {
    if (imageSize % side !== 0) throw new Error(`--vote-side ${side} does not divide the pictures' size ${imageSize}`);
    const bank = exemplarBankFrom(shards.train, caps.train, side);
    return flags.voteM.map((m) => ({
      part: exemplarPart(bank, m, 1),
      rows: flags.vote!.map((weight) => ({ weight, name: `${flags.clip[0]} + vote m ${m} side ${side} at ${weight}` })),
    }));
  });
  const rowNames = [
    ...flags.clip,
    ...contrasts.map((x) => x.name),
    ...byScore,
    ...(flags.evidence ? [combined] : []),
    ...mixes.map((m) => m.name),
    ...alone,
    ...votes.flatMap((v) => v.rows.map((x) => x.name)),
  ];
  const rows = {} as Record<SetName, { off: PerPrompt; oracle: PerPrompt; clips: Kept[][]; evidence: PerPrompt }>;
  const bar = new Progress("eval:rerank", sets.heldout.length + sets.train.length);
  try {
    for (const name of ["heldout", "train"] as const) {
      const out = {
        off: [] as PerPrompt,
        oracle: [] as PerPrompt,
        clips: rowNames.map(() => [] as Kept[]),
        evidence: [] as PerPrompt,
      };
      for (const [p, r] of sets[name].entries()) {
        // The same seed per prompt as eval:gpt's rerank block (training/gpt/rerank-eval.ts rerankComparison).
        const c = await sampleCandidates({
          gpt,
          vq,
          tok,
          caption: r.caption,
          setting,
          candidates: flags.candidates,
          seed: flags.seed * 100_003 + p,
          sample,
        });
        try {
          const neighbours = candidateNeighbours(c.pixels, (q) => pool.neighbours(q));
          const label = labelOf(r);
          const kept = (ids: readonly number[]): Kept => {
            const s = zeroScores();
            for (const i of ids) score(s, neighbours[i], pool.labels, label);
            for (const k of MEASURES) s[k] /= ids.length;
            return { ...s, style1: ids.filter((i) => pool.styles[neighbours[i][0]] === styleOf(r)).length / ids.length };
          };
          out.off.push(kept(Array.from({ length: flags.images }, (_, i) => i)));
          const best = keptCeiling(neighbours, pool.labels, label, flags.images);
          for (const k of MEASURES) best[k] /= flags.images;
          out.oracle.push(best);
          const levels = toLevels(c.stored);
          let evidence: Float32Array | undefined;
          if (flags.evidence) {
            const n = c.codes.length;
            const grid = c.codes[0].length;
            const codes = new Int32Array(n * grid);
            c.codes.forEach((g, i) =>
              codes.set(
                Array.from(g, (x) => Math.max(0, x)),
                i * grid,
              ),
            );
            const repeat = (ids: ArrayLike<number>) => {
              const t = new Int32Array(n * gpt.config.textLen);
              for (let i = 0; i < n; i++) t.set(ids, i * gpt.config.textLen);
              return t;
            };
            const withPrompt = await rowLosses(gpt, repeat(tok.encode(r.caption, gpt.config.textLen).ids), codes, n, n);
            const without = await rowLosses(gpt, repeat(tok.encodeNull(gpt.config.textLen)), codes, n, n);
            evidence = Float32Array.from(without.image, (v, i) => v - withPrompt.image[i]);
            out.evidence.push(kept(rankApart(evidence, levels, flags.images).kept.map((x) => x.index)));
          }
          for (const [k, clip] of clips.entries()) {
            const ranked = await rerank(clip.part, r.caption, c.stored, flags.images, k === 0 ? served : undefined);
            out.clips[k].push(kept(ranked.kept.map((x) => x.index)));
            if (k === 0 && labelBank) {
              const byLabel = captionCosines(labelBank, label, ranked.embeddings);
              for (const m of mixes) {
                const mixed = Float32Array.from(ranked.scores, (v, i) => (1 - m.weight) * v + m.weight * byLabel[i]);
                out.clips[rowNames.indexOf(m.name)].push(kept(rankApart(mixed, levels, flags.images).kept.map((x) => x.index)));
              }
            }
            if (k === 0 && served)
              out.clips[rowNames.indexOf(alone[0])].push(kept(rankApart(ranked.scores, levels, flags.images).kept.map((y) => y.index)));
            if (k === 0)
              for (const v of votes) {
                const byVote = await exemplarVotes(v.part, clip.part, ranked.prompt, levels, imageSize);
                for (const x of v.rows) {
                  const mixed = mixedScores(ranked.scores, byVote, x.weight);
                  out.clips[rowNames.indexOf(x.name)].push(kept(rankApart(mixed, levels, flags.images).kept.map((y) => y.index)));
                }
              }
            const against = new Map<string, string[]>(); // kind → this prompt's competitors, shared by the weights
            for (const [j, x] of contrasts.entries()) {
              if (x.clip !== k) continue;
              if (!against.has(x.kind))
                against.set(
                  x.kind,
                  x.kind === "near"
                    ? competitors.near(r)
                    : x.kind === "all"
                      ? competitors.all(r)
                      : nearestCaptions(banks[k], r.caption, competitors.captions, KNN),
                );
              const s = contrastScores(ranked.scores, ranked.embeddings, banks[k], against.get(x.kind)!, scales[k], x.weight);
              out.clips[clips.length + j].push(kept(rankApart(s, levels, flags.images).kept.map((y) => y.index)));
            }
            if (flags.byScore)
              out.clips[clips.length + contrasts.length + k].push(kept(rankByScore(ranked.scores, flags.images).kept.map((y) => y.index)));
            if (k === 0 && evidence) {
              const [a, b] = [standardised(ranked.scores), standardised(evidence)];
              const sum = Float32Array.from(a, (x, i) => x + b[i]);
              out.clips[rowNames.indexOf(combined)].push(kept(rankApart(sum, levels, flags.images).kept.map((y) => y.index)));
            }
          }
        } finally {
          tf.dispose([c.pixels, c.stored]);
        }
        bar.tick(1, name);
      }
      rows[name] = out;
    }
    bar.finish();
  } finally {
    for (const c of clips) c.part.model.dispose();
    pool.dispose();
  }

  const pct = (x: number) => `${(100 * x).toFixed(1)}`.padStart(5);
  const result = {
    model: dir,
    setting,
    prompts: Math.max(sets.heldout.length, sets.train.length),
    ...(named && { namedByOthers: { heldout: sets.heldout.length, train: sets.train.length } }),
    heldoutSplit: flags.heldout,
    candidates: flags.candidates,
    images: flags.images,
    seed: flags.seed,
    sets: Object.fromEntries(
      (["heldout", "train"] as const).map((name) => {
        const r = rows[name];
        return [
          name,
          {
            off: meanScores(r.off),
            oracle: meanScores(r.oracle),
            // Per prompt, so that two models' runs on the same prompts can be compared pairwise (eval:paired).
            perPrompt: { captions: sets[name].map((x) => x.caption), off: r.off, served: r.clips[0] },
            ...(flags.evidence
              ? {
                  evidence: meanScores(r.evidence),
                  evidenceVersusFirstClip: Object.fromEntries(MEASURES.map((m) => [m, pairedDifference(r.clips[0], r.evidence, m)])),
                }
              : {}),
            clips: rowNames.map((clip, k) => ({
              clip,
              on: meanScores(r.clips[k]),
              // Style@1 (eval:compose's): a ranking may buy the label at the cost of the style it was asked in.
              style1: r.clips[k].reduce((a, x) => a + x.style1, 0) / r.clips[k].length,
              ...(k > 0 ? { versusFirst: Object.fromEntries(MEASURES.map((m) => [m, pairedDifference(r.clips[0], r.clips[k], m)])) } : {}),
            })),
          },
        ];
      }),
    ),
  };
  console.log(
    `setting guidance ${setting.guidance}, temperature ${setting.temperature}; ${flags.images} of ${flags.candidates} candidates, ${sets.heldout.length} held-out and ${sets.train.length} train prompts${named ? " (named by other families' keywords)" : ""}`,
  );
  console.log(`exact@1 exact@5 family@1 family@5 (%)`);
  for (const name of ["heldout", "train"] as const) {
    const s = result.sets[name];
    const line = (x: Scores) => MEASURES.map((m) => pct(x[m])).join(" ");
    console.log(`${name}: off ${line(s.off)} | oracle ${line(s.oracle)}`);
    if ("evidence" in s && s.evidence && s.evidenceVersusFirstClip) {
      const v = s.evidenceVersusFirstClip;
      console.log(
        `  transformer evidence: ${line(s.evidence)}; vs first CLIP: ${MEASURES.map((m) => `${(100 * v[m].diff).toFixed(1)}±${(100 * v[m].se).toFixed(1)}`).join(" ")}`,
      );
    }
    for (const c of s.clips) {
      const versus = "versusFirst" in c ? c.versusFirst : undefined;
      const vs = versus
        ? `; vs first: ${MEASURES.map((m) => `${(100 * versus[m].diff).toFixed(1)}±${(100 * versus[m].se).toFixed(1)}`).join(" ")}`
        : "";
      console.log(`  ${c.clip}: ${line(c.on)}; style@1 ${pct(c.style1)}${vs}`);
    }
  }
  if (flags.json) {
    fs.mkdirSync(path.dirname(path.resolve(flags.json)), { recursive: true });
    fs.writeFileSync(flags.json, JSON.stringify(result, null, 2) + "\n");
    console.log(`wrote ${flags.json}`);
  }
});
