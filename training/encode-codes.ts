// `npm run codes -- [--image-tokenizer models/image-tokenizer] [--data data/datasets/emoji]`
// Fills the code cache (data/codes/<key>/<split>.u16) for every split with this image tokenizer, so the next
// `npm run train:gpt` starts training at once. The key hashes the tokenizer's manifest and the dataset's, so a new
// tokenizer gets new codes and the old cache stays valid for the models trained on it.
import path from "node:path";
import { z } from "zod";
import { loadSplit, readManifest, SPLITS } from "../lib/data/manifest";
import { VQModel } from "../lib/model/vq-model";
import { initBackend } from "../lib/tensor/backend";
import { parseFlags, runMain } from "./cli";
import { cachedCodes, codesKey, encodeShard } from "./gpt/codes";

const USAGE = "usage: npm run codes -- [--image-tokenizer DIR] [--data DIR]";
const Flags = z.object({
  imageTokenizer: z.string().default(path.join("models", "image-tokenizer")),
  data: z.string().default(path.join("data", "datasets", "emoji")),
});

runMain("codes", async () => {
  const flags = parseFlags(process.argv.slice(2), Flags, USAGE);
  await initBackend();
  const { model } = VQModel.load(flags.imageTokenizer);
  try {
    if (!model.discrete) throw new Error(`${flags.imageTokenizer} is a continuous autoencoder: it has no codes to cache`);
    const manifest = readManifest(flags.data);
    const key = codesKey(flags.imageTokenizer, flags.data);
    for (const split of SPLITS) {
      const shard = loadSplit(flags.data, split, model.config.imageSize, manifest);
      const codes = cachedCodes(path.join("data", "codes"), key, split, () => encodeShard(model, shard, split));
      console.log(`${split}: ${codes.length / (model.grid * model.grid)} images → data/codes/${key}/${split}.u16`);
    }
  } finally {
    model.dispose();
  }
});
