// `npm run eval:dae -- <DAE folder> … [--data data/datasets/emoji] [--split val|test] [--json FILE]`
// What each denoiser does to each kind of damage an upload suffers (issue 31 part 4): the held-out split corrupted
// from the fixed validation seed by one corruption at a time — sensor noise (Gaussian + salt and pepper, what the
// DAE was first trained on), a soft focus, a JPEG round trip at quality 10–70 — and by the training mix
// (DEFAULT_CORRUPTION, 20 % left clean); for each, PSNR of the damaged input and of the DAE's output against the
// clean image, and of the DAE run on clean images (a denoiser must leave those alone); several folders side by side
// (the shipped models/default/lab/dae and a retrained one, say). Prints a table and JSON.
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { loadSplit, readManifest } from "../lib/data/manifest";
import { DAE } from "../lib/model/dae";
import { DEFAULT_CORRUPTION, type CorruptionConfig } from "../lib/model/dae-corruption";
import { initBackend } from "../lib/tensor/backend";
import { parseArgs, runMain } from "./cli";
import { scoreDenoiser } from "./lab/dae-task";

const USAGE = "usage: npm run eval:dae -- <DAE folder> … [--data DIR] [--split val|test] [--json FILE]";
const Flags = z.object({
  data: z.string().default(path.join("data", "datasets", "emoji")),
  split: z.enum(["val", "test"]).default("val"),
  json: z.string().optional(),
});

/** Every image damaged (pClean 0), by one kind of damage each; the training mix last. */
const none = { pClean: 0, maxSigma: 0, pSaltPepper: 0, maxSaltPepper: 0, pBlur: 0, pJpeg: 0 };
const DAMAGE: Record<string, CorruptionConfig> = {
  noise: {
    ...none,
    maxSigma: DEFAULT_CORRUPTION.maxSigma,
    pSaltPepper: DEFAULT_CORRUPTION.pSaltPepper,
    maxSaltPepper: DEFAULT_CORRUPTION.maxSaltPepper,
  },
  blur: { ...none, pBlur: 1 },
  jpeg: { ...none, pJpeg: 1, minJpegQuality: DEFAULT_CORRUPTION.minJpegQuality, maxJpegQuality: DEFAULT_CORRUPTION.maxJpegQuality },
  "training mix": DEFAULT_CORRUPTION,
};

runMain("eval:dae", async () => {
  const { positional: dirs, flags } = parseArgs(process.argv.slice(2), Flags, USAGE);
  for (const d of dirs)
    if (!fs.existsSync(path.join(d, "manifest.json"))) throw new Error(`${d}: no DAE checkpoint (manifest.json)\n${USAGE}`);
  await initBackend({ log: { info() {}, warn: console.warn } });
  const shard = loadSplit(flags.data, flags.split, 32, readManifest(flags.data));
  const results = [];
  console.log(`PSNR dB on ${shard.count} ${flags.split} images: damaged → denoised (clean images through the DAE)`);
  for (const dir of dirs) {
    const { model, manifest } = DAE.load(dir);
    try {
      const byDamage: Record<string, Awaited<ReturnType<typeof scoreDenoiser>>> = {};
      for (const [name, c] of Object.entries(DAMAGE)) {
        const s = await scoreDenoiser(model, shard, c);
        byDamage[name] = s;
        console.log(
          `${dir} (${manifest.step} steps)  ${name.padEnd(13)} ${s.noisyPsnr.toFixed(2)} → ${s.denoisedPsnr.toFixed(2)}  (clean ${s.cleanPsnr.toFixed(1)})`,
        );
      }
      results.push({
        dir,
        steps: manifest.step,
        corruption: (manifest.extra.hyper as { corruption?: unknown } | undefined)?.corruption ?? null,
        byDamage,
      });
    } finally {
      model.dispose();
    }
  }
  const out = { split: flags.split, images: shard.count, damage: DAMAGE, results };
  console.log(JSON.stringify(out));
  if (flags.json) fs.writeFileSync(flags.json, JSON.stringify(out, null, 2) + "\n");
});
