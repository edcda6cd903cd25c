// `npm run exemplars -- <model folder> [--data DIR] [--side S] [--neighbours M] [--weight W] [--chosen TEXT]`
// Writes the model folder's exemplar bank (lib/generate/exemplar-folder.ts): every training picture of the core
// corpus (never val or test, never the supplementary styles) shrunk to S×S, with its caption, and the mix the
// server ranks with: z(CLIP) + W·z(vote of the M nearest bank pictures). The defaults are the mix chosen on val
// prompts (docs/transformer/README.md, "Reranking by exemplars"); `npm run eval:rerank` then measures the folder
// as served. A folder without a CLIP gains nothing (the vote is mixed with CLIP's score), so it is refused.
import path from "node:path";
import { z } from "zod";
import { datasetHash } from "../lib/data/manifest";
import { EXEMPLARS_FORMAT, EXEMPLARS_SUBDIR, writeExemplars } from "../lib/generate/exemplar-folder";
import { clipDirOf } from "../lib/generate/model-bundle";
import { readCheckpointManifest } from "../lib/model/checkpoint";
import { parseArgs, runMain } from "./cli";
import { coreTrainSplit, exemplarBankFrom } from "./gpt/exemplar-bank";

const USAGE = "usage: npm run exemplars -- <model folder> [--data DIR] [--side S] [--neighbours M] [--weight W] [--chosen TEXT]";

/** The mix chosen on val prompts (eval:rerank --heldout val --seed 2 --vote …): see the header. */
export const DEFAULT_SIDE = 16;
export const DEFAULT_NEIGHBOURS = 1;
export const DEFAULT_WEIGHT = 2;

const Flags = z
  .object({
    data: z.string().default(path.join("data", "datasets", "emoji")),
    side: z.coerce.number().int().min(1).max(256).default(DEFAULT_SIDE),
    neighbours: z.coerce.number().int().min(1).max(64).default(DEFAULT_NEIGHBOURS),
    weight: z.coerce.number().min(0).max(1000).default(DEFAULT_WEIGHT),
    chosen: z.string().optional(),
  })
  .strict();

runMain("exemplars", async () => {
  const { positional, flags } = parseArgs(process.argv.slice(2), Flags, USAGE);
  if (positional.length !== 1) throw new Error(USAGE);
  const [dir] = positional;
  const manifest = readCheckpointManifest(dir);
  if (manifest.kind !== "transformer") throw new Error(`${dir} holds a ${manifest.kind}, not a transformer model folder`);
  if (!clipDirOf(dir, manifest))
    throw new Error(`${dir} has no CLIP: the exemplars' vote is mixed with CLIP's score, so a bank would do nothing`);
  const imageSize = readCheckpointManifest(path.join(dir, String(manifest.extra.imageTokenizer ?? "image-tokenizer"))).config.imageSize;
  if (typeof imageSize !== "number" || imageSize % flags.side !== 0)
    throw new Error(`--side ${flags.side} does not divide the image tokenizer's picture size ${String(imageSize)}`);
  const { shard, caps } = coreTrainSplit(flags.data, imageSize);
  const bank = exemplarBankFrom(shard, caps, flags.side);
  const out = path.join(dir, EXEMPLARS_SUBDIR);
  await writeExemplars(
    out,
    {
      format: EXEMPLARS_FORMAT,
      version: 1,
      count: bank.count,
      side: flags.side,
      neighbours: flags.neighbours,
      weight: flags.weight,
      dataHash: datasetHash(flags.data),
      split: "train",
      createdAt: new Date().toISOString(),
      ...(flags.chosen ? { chosen: flags.chosen } : {}),
    },
    bank,
  );
  console.log(
    `wrote ${out}: ${bank.count} training pictures at ${flags.side}×${flags.side}; the vote of the ${flags.neighbours} nearest at weight ${flags.weight}`,
  );
});
