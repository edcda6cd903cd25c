// `npm run data [-- --set emoji|shapes|all] [--preview] [--out data/datasets] [--seed N] [--sizes 32,64]
//   [--supplementary true|false]`
// Builds the training corpora from installed npm packages (emoji) or from scratch (shapes), and writes contact
// sheets with --preview.
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { SPLITS } from "../lib/data/manifest";
import { flag, parseFlags, runMain } from "./cli";
import { buildEmoji } from "./data/build-emoji";
import { DEFAULT_EMOJI_SPLIT } from "./data/emoji-splits";
import { buildShapes, DEFAULT_SHAPES_COUNTS } from "./data/build-shapes";
import { contactSheet } from "./data/preview";

const USAGE =
  "usage: npm run data -- [--set emoji|shapes|all] [--preview] [--out DIR] [--seed N] [--sizes 32,64] [--concurrency N] [--limit N] [--shapes-train N] [--supplementary true|false]";

const Flags = z.object({
  set: z.enum(["emoji", "shapes", "all"]).default("emoji"),
  out: z.string().min(1).default(path.join("data", "datasets")),
  seed: z.coerce
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .default(DEFAULT_EMOJI_SPLIT.seed),
  sizes: z
    .string()
    .default("32,64")
    .transform((s) => s.split(",").map((x) => Number(x.trim())))
    .pipe(z.array(z.number().int().min(8).max(256)).min(1)),
  concurrency: z.coerce.number().int().min(1).max(64).default(8),
  /** Emoji per set, for a quick trial build. */
  limit: z.coerce.number().int().positive().optional(),
  /** Shapes train scenes (default 20,000); val and test keep their own streams, so they do not change with it. */
  shapesTrain: z.coerce.number().int().min(1).max(1_000_000).optional(),
  /** Emoji: also draw the supplementary styles (emojione, blob) as training-only pictures. */
  supplementary: flag(),
  /** Only write contact sheets (building a set first if it does not exist yet). */
  preview: flag(),
});

runMain("data", async () => {
  const flags = parseFlags(process.argv.slice(2), Flags, USAGE);
  const sets = flags.set === "all" ? (["emoji", "shapes"] as const) : ([flags.set] as const);
  for (const set of sets) {
    const dir = path.join(flags.out, set);
    const exists = fs.existsSync(path.join(dir, "manifest.json"));
    if (!flags.preview || !exists) {
      const started = performance.now();
      if (set === "emoji") {
        await buildEmoji({
          outDir: dir,
          sizes: flags.sizes,
          split: { ...DEFAULT_EMOJI_SPLIT, seed: flags.seed },
          concurrency: flags.concurrency,
          limitPerSet: flags.limit,
          supplementary: flags.supplementary,
        });
      } else {
        const scale = flags.limit ? flags.limit / DEFAULT_SHAPES_COUNTS.train : 1;
        const counts = Object.fromEntries(
          SPLITS.map((s) => [s, Math.max(1, Math.round(DEFAULT_SHAPES_COUNTS[s] * Math.min(1, scale)))]),
        ) as Record<(typeof SPLITS)[number], number>;
        if (flags.shapesTrain) counts.train = flags.shapesTrain;
        buildShapes({ outDir: dir, seed: flags.seed, counts });
      }
      console.log(`${set}: built in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
    if (flags.preview) {
      for (const split of SPLITS) {
        const file = path.join(dir, "preview", `${split}.png`);
        const n = await contactSheet(dir, split, file);
        console.log(`${set}: contact sheet of ${n} ${split} images → ${file}`);
      }
    }
  }
});
