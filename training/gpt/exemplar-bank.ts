// An exemplar bank from a dataset (lib/generate/exemplars.ts): every training picture of the core corpus (never val
// or test, never the supplementary styles), shrunk to `side`, with its caption. `npm run exemplars` writes it into a
// model folder; eval:rerank's --vote rows rank with it straight from the dataset.
import { captionsFor, loadSplit, readCaptions, readManifest } from "../../lib/data/manifest";
import { imageAt } from "../../lib/data/shard";
import { checkBank, shrink, type ExemplarBank } from "../../lib/generate/exemplars";
import { coreOnly } from "./eval-context";

/** The training pictures of the dataset in `dataDir` at `imageSize`, shrunk to `side`, with their captions. */
export function exemplarBankFrom(dataDir: string, imageSize: number, side: number): ExemplarBank {
  const { shard, caps } = coreOnly(
    loadSplit(dataDir, "train", imageSize, readManifest(dataDir)),
    captionsFor(readCaptions(dataDir), "train"),
  );
  const size = side * side * 3;
  const pictures = new Uint8Array(shard.count * size);
  caps.forEach((r, i) => pictures.set(shrink(imageAt(shard, r.index), imageSize, side), i * size));
  return checkBank({ count: shard.count, captions: caps.map((r) => r.caption), pictures, side });
}
