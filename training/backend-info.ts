// `npm run backend [-- --size 1024 --reps 5]`: which TensorFlow.js backend this machine selects (honouring
// TESSERA_BACKEND) and the matMul throughput it reaches, the practical compute ceiling for training here.
import * as tf from "@tensorflow/tfjs";
import { z } from "zod";
import { initBackend } from "../lib/tensor/backend";

const Flags = z.object({
  size: z.coerce.number().int().min(16).max(8192).default(1024),
  reps: z.coerce.number().int().min(1).max(100).default(5),
});

function parseFlags(argv: string[]): z.infer<typeof Flags> {
  const raw: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--(size|reps)(?:=(.*))?$/.exec(argv[i]);
    if (!m) throw new Error(`unknown argument "${argv[i]}"; usage: npm run backend -- [--size N] [--reps N]`);
    raw[m[1]] = m[2] ?? argv[++i] ?? "";
  }
  const parsed = Flags.safeParse(raw);
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `--${i.path.join(".")}: ${i.message}`).join("; "));
  return parsed.data;
}

async function main() {
  const { size, reps } = parseFlags(process.argv.slice(2));
  const info = await initBackend();
  const a = tf.randomNormal([size, size]);
  const b = tf.randomNormal([size, size]);
  try {
    // One warm-up product: the first call compiles kernels (webgpu) or allocates scratch (wasm).
    tf.tidy(() => tf.matMul(a, b)).dispose();
    const times: number[] = [];
    for (let r = 0; r < reps; r++) {
      const started = performance.now();
      const c = tf.matMul(a, b);
      await c.data();
      times.push(performance.now() - started);
      c.dispose();
    }
    const best = Math.min(...times);
    const gflops = (2 * size ** 3) / (best / 1000) / 1e9;
    console.log(JSON.stringify({ backend: info.name, detail: info.detail, size, reps, bestMs: +best.toFixed(2), gflops: +gflops.toFixed(2) }));
  } finally {
    a.dispose();
    b.dispose();
  }
}

main().catch((err: unknown) => {
  console.error(`[backend] ${(err as Error).message}`);
  process.exit(1);
});
