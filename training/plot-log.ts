// `npm run plot -- <log.jsonl> [<log.jsonl> …] --key loss [--names a,b] [--x items|step|minutes] [--log-y] --out curve.png`
// Draws learning curves from the training loop's `<run>/log.jsonl` files as one PNG: one line per file (rows that
// carry the key), x = training items seen (or steps, or training minutes), y = the key (e.g. loss, imageLoss, reconstruction,
// valImageNats, valPsnr), drawn by training/plot/curves.ts and rasterised with sharp.
import fs from "node:fs";
import path from "node:path";
import sharp from "sharp";
import { z } from "zod";
import { flag, parseArgs, runMain } from "./cli";
import { curvesSvg, readSeries } from "./plot/curves";

const USAGE =
  "usage: npm run plot -- <log.jsonl> [<log.jsonl> …] --key NAME [--names a,b] [--x items|step|minutes] [--log-y] --out FILE.png";
const Flags = z.object({
  key: z.string().min(1),
  names: z
    .string()
    .transform((s) => s.split(","))
    .optional(),
  x: z.enum(["items", "step", "minutes"]).default("items"),
  logY: flag(),
  out: z.string().min(1),
});

runMain("plot", async () => {
  const { positional: files, flags } = parseArgs(process.argv.slice(2), Flags, USAGE);
  if (flags.names && flags.names.length !== files.length)
    throw new Error(`--names gives ${flags.names.length} names for ${files.length} logs\n${USAGE}`);
  for (const f of files) if (!fs.existsSync(f)) throw new Error(`${f}: no such log`);
  const series = files.map((f, i) => ({
    name: flags.names?.[i] ?? path.basename(path.dirname(f)),
    points: readSeries(f, flags.key, flags.x),
  }));
  const svg = curvesSvg(
    series,
    { items: "training items seen", step: "step", minutes: "training minutes" }[flags.x],
    flags.key,
    flags.logY,
  );
  fs.mkdirSync(path.dirname(path.resolve(flags.out)), { recursive: true });
  await sharp(Buffer.from(svg)).png().toFile(flags.out);
  console.log(`wrote ${flags.out} (${series.map((s) => `${s.name}: ${s.points.length} points`).join(", ")})`);
});
