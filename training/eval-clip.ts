// `npm run eval:clip -- <clip folder> [--split test|val] [--data DIR] [--text-tokenizer DIR] [--batch 256] [--json FILE]`
// Zero-shot evaluation of a CLIP (Radford et al. 2021, §3.1) on real images it never saw: the test split holds one
// (label, style) pair per label that training never showed (README, "Split rule"), so this measures whether CLIP
// composes a label it knows with a style it saw on other labels. Image→label: every label of the corpus (3,979) is
// a candidate, prompted three ways — the label alone, "<label>, <style>" with the image's own style (the caption
// form it was trained on), and the mean of the four styled prompts (prompt ensembling, §3.1.4, which does not
// need to know the style) — scored @1 and @5 on the exact label and on the label family (skin tone stripped).
// Text→image: each caption ranks every image of the split; recall@1/5/10. Everything per style as well. Prints a
// table and writes JSON (default <dir>/eval-clip.json).
import fs from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { z } from "zod";
import { captionsFor, loadSplit, readCaptions, readManifest } from "../lib/data/manifest";
import { sha256 } from "../lib/data/shard";
import { Clip } from "../lib/model/clip";
import { initBackend } from "../lib/tensor/backend";
import { loadTextTokenizer } from "../lib/text/tokenizer";
import { parseArgs, runMain } from "./cli";
import { embedImages, embedTexts, ensemble, ranksOf, recallAt, topMatches } from "./clip/zero-shot";
import { chance, labelOf, mean, score, styleOf, zeroScores, type Scores } from "./gpt/eval-sets";

const USAGE = "usage: npm run eval:clip -- <clip folder> [--split test|val] [--data DIR] [--text-tokenizer DIR] [--batch N] [--json FILE]";
const Flags = z.object({
  data: z.string().default(path.join("data", "datasets", "emoji")),
  split: z.enum(["test", "val"]).default("test"),
  textTokenizer: z.string().optional(),
  batch: z.coerce.number().int().min(1).max(4096).default(256),
  json: z.string().optional(),
});

const PROMPTS = ["label", "labelStyle", "ensemble"] as const;
type Prompt = (typeof PROMPTS)[number];
const PROMPT_NAMES: Record<Prompt, string> = { label: '"<label>"', labelStyle: '"<label>, <style>"', ensemble: "ensemble of 4 styles" };

/** An exported CLIP carries its tokenizer; a run folder's model (<out>/model) has it at <out>/text-tokenizer. */
function tokenizerDir(dir: string, given?: string): string {
  if (given) return given;
  if (fs.existsSync(path.join(dir, "tokenizer.json"))) return dir;
  const beside = path.join(dir, "..", "text-tokenizer");
  if (fs.existsSync(path.join(beside, "tokenizer.json"))) return beside;
  throw new Error(`${dir} has no tokenizer.json (nor ${beside}); pass --text-tokenizer DIR`);
}

runMain("eval:clip", async () => {
  const { positional, flags } = parseArgs(process.argv.slice(2), Flags, USAGE);
  const dir = positional[0];
  await initBackend();
  const { model, manifest } = Clip.load(dir);
  const tokDir = tokenizerDir(dir, flags.textTokenizer);
  const trained = manifest.extra.textTokenizerSha256 ?? (manifest.extra.hyper as Record<string, unknown> | undefined)?.textTokenizerSha256;
  const have = sha256(fs.readFileSync(path.join(tokDir, "tokenizer.json")));
  if (trained && trained !== have) throw new Error(`${tokDir}/tokenizer.json is not the tokenizer ${dir} was trained with`);
  const tok = await loadTextTokenizer(tokDir);
  const records = readCaptions(flags.data);
  const queries = captionsFor(records, flags.split);
  const shard = loadSplit(flags.data, flags.split, model.config.imageSize, readManifest(flags.data));
  if (queries.length !== shard.count) throw new Error(`${flags.split}: ${queries.length} captions for ${shard.count} images`);
  const labels = [...new Set(records.map(labelOf))].sort();
  const styles = [...new Set(records.map(styleOf))].sort();
  const started = performance.now();

  const images = embedImages(model, shard, undefined, flags.batch); // [N, D]
  const byStyle = new Map(styles.map((s) => [s, queries.flatMap((r, i) => (styleOf(r) === s ? [i] : []))]));
  const styled = new Map(
    styles.map((s) => [
      s,
      embedTexts(
        model,
        tok,
        labels.map((l) => `${l}, ${s}`),
        flags.batch,
      ),
    ]),
  );
  const labelOnly = embedTexts(model, tok, labels, flags.batch);
  const ensembled = ensemble([...styled.values()]);
  const promptEmbeddings = (p: Prompt, style: string) => (p === "label" ? labelOnly : p === "ensemble" ? ensembled : styled.get(style)!);

  // Image → label, per prompt form and per style.
  const imageToLabel = {} as Record<Prompt, { all: Scores; byStyle: Record<string, Scores> }>;
  for (const p of PROMPTS) {
    const all = zeroScores();
    const per: Record<string, Scores> = {};
    for (const [s, idx] of byStyle) {
      if (!idx.length) continue;
      const q = tf.gather(images, idx) as tf.Tensor2D;
      const st = zeroScores();
      topMatches(q, promptEmbeddings(p, s), 5).forEach((top, k) => {
        const label = labelOf(queries[idx[k]]);
        score(all, top, labels, label);
        score(st, top, labels, label);
      });
      q.dispose();
      per[s] = mean(st, idx.length);
    }
    imageToLabel[p] = { all: mean(all, queries.length), byStyle: per };
  }

  // Text → image: each record's own caption against every image of the split.
  const captions = embedTexts(
    model,
    tok,
    queries.map((r) => r.caption),
    flags.batch,
  );
  const ranks = ranksOf(
    captions,
    images,
    Int32Array.from({ length: queries.length }, (_, i) => i),
  );
  const recalls = (where?: (i: number) => boolean) => ({
    r1: recallAt(ranks, 1, where),
    r5: recallAt(ranks, 5, where),
    r10: recallAt(ranks, 10, where),
  });
  const textToImage = {
    all: recalls(),
    byStyle: Object.fromEntries(styles.map((s) => [s, recalls((i) => styleOf(queries[i]) === s)])),
  };
  const seconds = (performance.now() - started) / 1000;
  tf.dispose([images, captions, labelOnly, ensembled, ...styled.values()]);
  model.dispose();

  const chanceScores = chance(queries, labels);
  const pct = (x: number) => `${(100 * x).toFixed(1)}`.padStart(6);
  const line = (s: Scores) => `${pct(s.exact1)} ${pct(s.exact5)} ${pct(s.family1)} ${pct(s.family5)}`;
  console.log(
    `\nzero-shot image→label, ${flags.split} split (${queries.length} images) over ${labels.length} labels, %: exact@1 exact@5 family@1 family@5`,
  );
  console.log(`${"chance".padEnd(24)} ${line(chanceScores)}`);
  for (const p of PROMPTS) console.log(`${PROMPT_NAMES[p].padEnd(24)} ${line(imageToLabel[p].all)}`);
  console.log(`\nper style (${PROMPT_NAMES.labelStyle} / ${PROMPT_NAMES.label}): family@5, exact@1`);
  for (const s of styles) {
    const a = imageToLabel.labelStyle.byStyle[s];
    const b = imageToLabel.label.byStyle[s];
    if (!a) continue;
    console.log(
      `${`${s} (${byStyle.get(s)!.length})`.padEnd(24)} ${pct(a.family5)} ${pct(a.exact1)}   / ${pct(b.family5)} ${pct(b.exact1)}`,
    );
  }
  console.log(`\ntext→image over the ${queries.length} ${flags.split} images (caption "<label>, <style>"), %: R@1 R@5 R@10`);
  console.log(`${"all".padEnd(24)} ${pct(textToImage.all.r1)} ${pct(textToImage.all.r5)} ${pct(textToImage.all.r10)}`);
  for (const s of styles) {
    const r = textToImage.byStyle[s];
    if (Number.isNaN(r.r1)) continue;
    console.log(`${s.padEnd(24)} ${pct(r.r1)} ${pct(r.r5)} ${pct(r.r10)}`);
  }
  console.log(`(${seconds.toFixed(1)} s)`);
  const out = flags.json ?? path.join(dir, "eval-clip.json");
  const result = {
    model: dir,
    step: manifest.step,
    split: flags.split,
    images: queries.length,
    labels: labels.length,
    chance: chanceScores,
    imageToLabel,
    textToImage,
    seconds,
  };
  fs.writeFileSync(out, JSON.stringify(result, null, 2) + "\n");
  console.log(`wrote ${out}`);
});
