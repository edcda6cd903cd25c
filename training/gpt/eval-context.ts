// What the transformer's evals (eval:gpt, eval:completion) load first: the model folder (transformer, its image
// tokenizer, text tokenizer and exemplar bank if any), the dataset's three splits at the tokenizer's image size with their captions, and
// the retrieval pool every generated picture is scored against (eval-sets.ts: nearest real images, the whole
// corpus, 32×32 RGB pixel space). Supplementary (train-only) pictures are left out of all of it: prompts and pool
// stay the core corpus, so models trained with and without them are judged on the same yardstick.
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { captionsFor, loadSplit, readCaptions, readManifest, SPLITS, type CaptionRecord, type Split } from "../../lib/data/manifest";
import { imageAt, imageBytes, type Shard } from "../../lib/data/shard";
import { loadExemplars, type ExemplarPart } from "../../lib/generate/exemplar-folder";
import type { CheckpointManifest } from "../../lib/model/checkpoint";
import { Transformer } from "../../lib/model/transformer";
import { VQModel } from "../../lib/model/vq-model";
import { loadTextTokenizer, type TextTokenizer } from "../../lib/text/tokenizer";
import { flatten, labelOf, styleOf, topK } from "./eval-sets";

export interface EvalContext {
  dir: string;
  gpt: Transformer;
  manifest: CheckpointManifest;
  vq: VQModel;
  tok: TextTokenizer;
  shards: Record<Split, Shard>;
  caps: Record<Split, CaptionRecord[]>;
  /** The folder's exemplar bank when it has one: what the server's ranking mixes with CLIP's (served pictures). */
  exemplars?: ExemplarPart;
}

/** Loads a transformer folder and the dataset it is judged on. */
export async function loadEvalContext(dir: string, dataDir: string): Promise<EvalContext> {
  const { model: gpt, manifest } = Transformer.load(dir);
  const { model: vq } = VQModel.load(path.join(dir, String(manifest.extra.imageTokenizer ?? "image-tokenizer")));
  const tok = await loadTextTokenizer(dir);
  const data = readManifest(dataDir);
  const records = readCaptions(dataDir);
  const size = vq.config.imageSize;
  const core = SPLITS.map((s) => coreOnly(loadSplit(dataDir, s, size, data), captionsFor(records, s)));
  const shards = Object.fromEntries(SPLITS.map((s, i) => [s, core[i].shard])) as Record<Split, Shard>;
  const caps = Object.fromEntries(SPLITS.map((s, i) => [s, core[i].caps])) as Record<Split, CaptionRecord[]>;
  const exemplars = await loadExemplars(dir, size);
  return { dir, gpt, manifest, vq, tok, shards, caps, exemplars };
}

/** A split without its supplementary pictures (build-emoji.ts marks them `meta.supplementary`), re-indexed. */
export function coreOnly(shard: Shard, caps: CaptionRecord[]): { shard: Shard; caps: CaptionRecord[] } {
  const kept = caps.filter((r) => r.meta.supplementary !== true);
  if (kept.length === caps.length) return { shard, caps };
  const n = imageBytes(shard);
  const data = new Uint8Array(kept.length * n);
  kept.forEach((r, i) => data.set(imageAt(shard, r.index), i * n));
  return { shard: { ...shard, count: kept.length, data }, caps: kept.map((r, i) => ({ ...r, index: i })) };
}

/** Every image of the corpus with its label and style; `neighbours` gives a batch of pictures' k nearest, nearest first. */
export interface RetrievalPool {
  labels: string[];
  /** Each image's style, in the order of `labels` (eval:compose's style@1). */
  styles: string[];
  neighbours(queries: tf.Tensor2D, k?: number): Int32Array[];
  dispose(): void;
}

export function retrievalPool(ctx: Pick<EvalContext, "shards" | "caps">): RetrievalPool {
  const labels = SPLITS.flatMap((s) => ctx.caps[s].map(labelOf));
  const styles = SPLITS.flatMap((s) => ctx.caps[s].map(styleOf));
  const corpus = tf.concat(SPLITS.map((s) => flatten(ctx.shards[s]))) as tf.Tensor2D; // [M, D]
  const corpusT = tf.transpose(corpus) as tf.Tensor2D; // [D, M]: transposed once, then plain matMuls
  const corpusSq = tf.sum(tf.square(corpus), 1) as tf.Tensor1D;
  corpus.dispose();
  return {
    labels,
    styles,
    neighbours: (queries, k = 5) => topK(queries, corpusT, corpusSq, k),
    dispose: () => tf.dispose([corpusT, corpusSq]),
  };
}
