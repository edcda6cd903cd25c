// `npx tsx training/bench/vae-edit.ts [--model-dir models/default] [--reps 20]`
// Milliseconds per VAE request as the routes run them (PNG decode → VAE → PNG data URLs; the one-row database read
// is left out), for variations (k 8 and 16) and blends (8 and 16 frames) on val images; prints JSON. The target is
// ≤ 300 ms per request. Uses `<model dir>/lab/vae` when it exists, else an untrained VAE of the default config in a
// temporary folder (the same FLOPs: speed does not depend on the weights).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { z } from "zod";
import { loadSplit } from "../../lib/data/manifest";
import { imageAt } from "../../lib/data/shard";
import { blendOfPngs, disposeVaeCache, vaeDirOf, variationsOfPng } from "../../lib/generate/vae-edit";
import { saveCheckpoint } from "../../lib/model/checkpoint";
import { VAE } from "../../lib/model/vae";
import { DEFAULT_VAE_CONFIG } from "../../lib/model/vae-config";
import { initBackend } from "../../lib/tensor/backend";
import { parseFlags, runMain } from "../cli";

const USAGE = "usage: npx tsx training/bench/vae-edit.ts [--model-dir DIR] [--reps N] [--data DIR]";
const Flags = z.object({
  modelDir: z.string().default(path.join("models", "default")),
  reps: z.coerce.number().int().min(1).max(1000).default(20),
  data: z.string().default(path.join("data", "datasets", "emoji")),
});

function summary(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { p50: Math.round(q(0.5)), p95: Math.round(q(0.95)), max: Math.round(s[s.length - 1]) };
}

runMain("bench:vae-edit", async () => {
  const flags = parseFlags(process.argv.slice(2), Flags, USAGE);
  const backend = await initBackend({ log: { info() {}, warn: console.warn } });
  let dir = vaeDirOf(flags.modelDir);
  let temp: string | null = null;
  if (!fs.existsSync(path.join(dir, "manifest.json"))) {
    temp = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-vae-bench-"));
    dir = path.join(temp, "vae");
    const vae = new VAE({ ...DEFAULT_VAE_CONFIG }, 1);
    await saveCheckpoint(dir, vae.params.all(), { kind: "vae", config: vae.config, dtype: "float16" });
    vae.dispose();
  }
  try {
    const val = loadSplit(flags.data, "val", 32);
    const pngs = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        sharp(Buffer.from(imageAt(val, (i * 37) % val.count)), { raw: { width: 32, height: 32, channels: 3 } })
          .png()
          .toBuffer(),
      ),
    );
    const time = async (fn: (i: number) => Promise<unknown>) => {
      await fn(0); // loads the VAE, compiles kernels
      const ms: number[] = [];
      for (let i = 0; i < flags.reps; i++) {
        const t = performance.now();
        await fn(i);
        ms.push(performance.now() - t);
      }
      return summary(ms);
    };
    const result = {
      backend: backend.name,
      vae: temp ? "untrained, default config" : dir,
      reps: flags.reps,
      targetMs: 300,
      variationsK8: await time((i) => variationsOfPng(dir, pngs[i % 8], 8, 1, i)),
      variationsK16: await time((i) => variationsOfPng(dir, pngs[i % 8], 16, 1, i)),
      blend8: await time((i) => blendOfPngs(dir, pngs[i % 8], pngs[(i + 3) % 8], 8)),
      blend16: await time((i) => blendOfPngs(dir, pngs[i % 8], pngs[(i + 3) % 8], 16)),
    };
    console.log(JSON.stringify(result, null, 2));
  } finally {
    disposeVaeCache();
    if (temp) fs.rmSync(temp, { recursive: true, force: true });
  }
});
