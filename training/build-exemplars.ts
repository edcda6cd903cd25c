// `npm run exemplars -- <model folder> [--data DIR] [--side S] [--neighbours M] [--weight W] [--chosen TEXT]`
// Writes the model folder's exemplar bank (lib/generate/exemplar-folder.ts): every training picture of the core
// corpus (never val or test, never the supplementary styles) shrunk to S×S, with its caption, and the mix the
// server ranks with: z(CLIP) + W·z(vote of the M nearest bank pictures). The defaults are the mix chosen on val
// prompts (docs/transformer/README.md, "Reranking by exemplars"); `npm run eval:rerank` then measures the folder
// as served. A folder without a CLIP gains nothing (the vote is mixed with CLIP's score), so it is refused.
import path from "node:path";
import { z } from "zod";
import { parseArgs, runMain } from "./cli";
import { DEFAULT_NEIGHBOURS, DEFAULT_SIDE, DEFAULT_WEIGHT, writeExemplarBank } from "./gpt/exemplar-bank";

const USAGE = "usage: npm run exemplars -- <model folder> [--data DIR] [--side S] [--neighbours M] [--weight W] [--chosen TEXT]";

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
  const { dir: out, count } = await writeExemplarBank(dir, flags.data, flags);
  console.log(
    `wrote ${out}: ${count} training pictures at ${flags.side}×${flags.side}; the vote of the ${flags.neighbours} nearest at weight ${flags.weight}`,
  );
});
