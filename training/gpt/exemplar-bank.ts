// An exemplar bank from a dataset (lib/generate/exemplars.ts): every training picture of the core corpus (never val
// or test, never the supplementary styles), shrunk to `side`, with its caption. `npm run exemplars` writes it into a
// model folder; eval:rerank's --vote rows rank with it straight from the split it has loaded.
import { captionsFor, loadSplit, readCaptions, readManifest, type CaptionRecord } from "../../lib/data/manifest";
import { imageAt, type Shard } from "../../lib/data/shard";
import { checkBank, shrink, type ExemplarBank } from "../../lib/generate/exemplars";
import { coreOnly } from "./eval-context";

/** The core training split of the dataset in `dataDir` at `imageSize`, with its captions. */
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
