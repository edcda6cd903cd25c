// `npm run eval:gpt -- <model folder> [--data data/datasets/emoji] [--limit 200] [--json FILE]`
// Measures the transformer: image-token loss on val and test (nats and bits per token), and on the test split's
// held-out (label, style) prompts a retrieval accuracy — does the nearest real image (pixel space, 32×32 RGB,
// squared error, over the whole corpus) of each generated image carry the prompt's label? — for guidance
// s ∈ {1, 3} and temperature ∈ {0.7, 1.0}.
import fs from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { z } from "zod";
import { captionsFor, loadSplit, readCaptions, readManifest, SPLITS, type CaptionRecord } from "../lib/data/manifest";
import type { Shard } from "../lib/data/shard";
import { sampleImageCodes } from "../lib/model/sample";
import { Transformer } from "../lib/model/transformer";
import { imageTokens } from "../lib/model/transformer-config";
import { VQModel } from "../lib/model/vq-model";
import { initBackend } from "../lib/tensor/backend";
import { loadTextTokenizer, tokeniseCaptions } from "../lib/text/tokenizer";
import { parseFlags, runMain } from "./cli";
import { encodeShard } from "./gpt/codes";
import { validationLoss, type GptData } from "./gpt/task";
import { Progress } from "./progress";
import { flatten, nearestNeighbours } from "./gpt/retrieval";

const USAGE = "usage: npm run eval:gpt -- <model folder> [--data DIR] [--limit N] [--batch N] [--json FILE]";
const Flags = z.object({
  data: z.string().default(path.join("data", "datasets", "emoji")),
  limit: z.coerce.number().int().positive().default(200),
  batch: z.coerce.number().int().min(1).max(64).default(8),
  json: z.string().optional(),
});

runMain("eval:gpt", async () => {
  const [dir, ...rest] = process.argv.slice(2);
  if (!dir || dir.startsWith("--")) throw new Error(USAGE);
  const flags = parseFlags(rest, Flags, USAGE);
  await initBackend();
  const { model: gpt, manifest } = Transformer.load(dir);
  const { model: vq } = VQModel.load(path.join(dir, String(manifest.extra.imageTokenizer ?? "image-tokenizer")));
  const tok = await loadTextTokenizer(dir);
  const c = gpt.config;
  const data = readManifest(flags.data);
  const records = readCaptions(flags.data);
  const size = vq.config.imageSize;

  const losses: Record<string, { nats: number; bitsPerToken: number }> = {};
  for (const split of ["val", "test"] as const) {
    const shard = loadSplit(flags.data, split, size, data);
    const caps = captionsFor(records, split);
    const { ids: text } = tokeniseCaptions(tok, caps.map((r) => r.caption), c.textLen);
    const g: GptData = { count: shard.count, text, codes: encodeShard(vq, shard, split) };
    const l = await validationLoss(gpt, g, shard.count);
    losses[split] = { nats: l.imageNats, bitsPerToken: l.imageBits };
  }

  // The retrieval pool: every image of the corpus, with its label.
  const pool: { shard: Shard; caps: CaptionRecord[] }[] = SPLITS.map((s) => ({ shard: loadSplit(flags.data, s, size, data), caps: captionsFor(records, s) }));
  const labels = pool.flatMap((p) => p.caps.map((r) => String(r.meta.label ?? r.caption)));
  const corpus = tf.concat(pool.map((p) => flatten(p.shard))) as tf.Tensor2D;
  const corpusT = tf.transpose(corpus) as tf.Tensor2D; // [D, M]: transposed once, then plain matMuls
  const corpusSq = tf.sum(tf.square(corpus), 1) as tf.Tensor1D;
  corpus.dispose();

  const prompts = captionsFor(records, "test").slice(0, flags.limit);
  const nul = tok.encodeNull(c.textLen);
  const settings = [1, 3].flatMap((guidance) => [0.7, 1.0].map((temperature) => ({ guidance, temperature })));
  const retrieval: { guidance: number; temperature: number; accuracy: number; prompts: number }[] = [];
  for (const s of settings) {
    const bar = new Progress(`retrieval s=${s.guidance} T=${s.temperature}`, prompts.length);
    let hits = 0;
    for (let start = 0; start < prompts.length; start += flags.batch) {
      const chunk = prompts.slice(start, start + flags.batch);
      const images: tf.Tensor2D[] = [];
      for (const [j, r] of chunk.entries()) {
        const [codes] = await sampleImageCodes(gpt, tok.encode(r.caption, c.textLen).ids, nul, { n: 1, ...s, seed: start + j });
        const grid = tf.tensor3d(codes, [1, vq.grid, vq.grid], "int32");
        const px = vq.decode(grid);
        images.push(tf.reshape(px, [1, -1]) as tf.Tensor2D);
        tf.dispose([grid, px]);
      }
      const q = tf.concat(images) as tf.Tensor2D;
      const nn = nearestNeighbours(q, corpusT, corpusSq);
      chunk.forEach((r, j) => {
        if (labels[nn[j]] === String(r.meta.label ?? r.caption)) hits++;
      });
      tf.dispose([q, ...images]);
      bar.tick(chunk.length);
    }
    bar.finish();
    retrieval.push({ ...s, accuracy: hits / prompts.length, prompts: prompts.length });
  }
  tf.dispose([corpusT, corpusSq]);

  console.log(`image-token loss: val ${losses.val.nats.toFixed(4)} nats (${losses.val.bitsPerToken.toFixed(3)} bits/token), test ${losses.test.nats.toFixed(4)} nats (${losses.test.bitsPerToken.toFixed(3)} bits/token); uniform would be ${Math.log(c.imageVocab).toFixed(3)} nats`);
  console.log(`retrieval accuracy on ${prompts.length} held-out test prompts (nearest real image in 32×32 pixel space has the prompt's label; chance ≈ ${(1 / new Set(labels).size).toExponential(1)}):`);
  for (const r of retrieval) console.log(`  guidance ${r.guidance}, temperature ${r.temperature}: ${(r.accuracy * 100).toFixed(1)}%`);
  const out = flags.json ?? path.join(dir, "eval-gpt.json");
  fs.writeFileSync(out, JSON.stringify({ model: dir, step: manifest.step, imageTokens: imageTokens(c), losses, retrieval }, null, 2) + "\n");
  console.log(`wrote ${out}`);
  gpt.dispose();
  vq.dispose();
});
