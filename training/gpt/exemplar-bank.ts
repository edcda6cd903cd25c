// An exemplar bank from a dataset (lib/generate/exemplars.ts): every training picture of the core corpus (never val
// or test, never the supplementary styles), shrunk to `side`, with its caption. `npm run exemplars` and the retrain
// pipeline's exemplars stage write it into a model folder (writeExemplarBank); eval:rerank's --vote rows rank with it
// straight from the split it has loaded.
import path from "node:path";
import { captionsFor, datasetHash, loadSplit, readCaptions, readManifest, type CaptionRecord } from "../../lib/data/manifest";
import { imageAt, type Shard } from "../../lib/data/shard";
import { EXEMPLARS_FORMAT, EXEMPLARS_SUBDIR, writeExemplars } from "../../lib/generate/exemplar-folder";
import { checkBank, shrink, type ExemplarBank } from "../../lib/generate/exemplars";
import { clipDirOf } from "../../lib/generate/model-bundle";
import { readCheckpointManifest } from "../../lib/model/checkpoint";
import { coreOnly } from "./eval-context";

/**
 * The mix chosen on val prompts (eval:rerank --heldout val --seed 2 --vote …; docs/transformer/README.md,
 * "Reranking by exemplars"): pictures at 16×16, the vote of the nearest one, at weight 2 beside CLIP's score.
 */
export const DEFAULT_SIDE = 16;
export const DEFAULT_NEIGHBOURS = 1;
export const DEFAULT_WEIGHT = 2;

/**
 * The core training split of the dataset in `dataDir` at `imageSize`, with its captions. Only the emoji build marks
 * records `meta.supplementary`; any other dataset (an admin's own folder, the shapes) is its whole train split.
 */
export function coreTrainSplit(dataDir: string, imageSize: number): { shard: Shard; caps: CaptionRecord[] } {
  return coreOnly(loadSplit(dataDir, "train", imageSize, readManifest(dataDir)), captionsFor(readCaptions(dataDir), "train"));
}

/** The pictures of `shard` (one caption record each, by index) shrunk to `side`, with their captions. */
export function exemplarBankFrom(shard: Shard, caps: readonly CaptionRecord[], side: number): ExemplarBank {
  if (caps.length !== shard.count) throw new Error(`exemplar bank: ${caps.length} captions for ${shard.count} pictures`);
  const size = side * side * 3;
  const pictures = new Uint8Array(shard.count * size);
  caps.forEach((r, i) => pictures.set(shrink(imageAt(shard, r.index), shard.height, side), i * size));
  return checkBank({ count: shard.count, captions: caps.map((r) => r.caption), pictures, side });
}

export interface ExemplarMix {
  side: number;
  neighbours: number;
  weight: number;
  /** How the mix was chosen (free text), for the manifest. */
  chosen?: string;
}

/**
 * Writes the exemplar bank of the model folder `modelDir` (its `exemplars/`) from the core train split of
 * `dataDir`, at the model's picture size. A folder without a CLIP is refused: the vote is mixed with CLIP's score,
 * so a bank would do nothing.
 */
export async function writeExemplarBank(modelDir: string, dataDir: string, mix: ExemplarMix): Promise<{ dir: string; count: number }> {
  const manifest = readCheckpointManifest(modelDir);
  if (manifest.kind !== "transformer") throw new Error(`${modelDir} holds a ${manifest.kind}, not a transformer model folder`);
  if (!clipDirOf(modelDir, manifest))
    throw new Error(`${modelDir} has no CLIP: the exemplars' vote is mixed with CLIP's score, so a bank would do nothing`);
  const imageSize = readCheckpointManifest(path.join(modelDir, String(manifest.extra.imageTokenizer ?? "image-tokenizer"))).config
    .imageSize;
  if (typeof imageSize !== "number" || imageSize % mix.side !== 0)
    throw new Error(
      `exemplar side ${mix.side} does not divide the image tokenizer's picture size ${String(imageSize)}: pick a divisor of it`,
    );
  const { shard, caps } = coreTrainSplit(dataDir, imageSize);
  const bank = exemplarBankFrom(shard, caps, mix.side);
  const dir = path.join(modelDir, EXEMPLARS_SUBDIR);
  await writeExemplars(
    dir,
    {
      format: EXEMPLARS_FORMAT,
      version: 1,
      count: bank.count,
      side: mix.side,
      neighbours: mix.neighbours,
      weight: mix.weight,
      dataHash: datasetHash(dataDir),
      split: "train",
      createdAt: new Date().toISOString(),
      ...(mix.chosen ? { chosen: mix.chosen } : {}),
    },
    bank,
  );
  return { dir, count: bank.count };
}
