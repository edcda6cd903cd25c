// `npm run backend [-- --size 1024 --reps 5]`: which TensorFlow.js backend this machine selects (honouring
// TESSERA_BACKEND) and the matMul throughput it reaches, the practical compute ceiling for training here.
import * as tf from "@tensorflow/tfjs";
import { z } from "zod";
import { initBackend } from "../lib/tensor/backend";
import { parseFlags, runMain } from "./cli";

const Flags = z.object({
  size: z.coerce.number().int().min(16).max(8192).default(1024),
  reps: z.coerce.number().int().min(1).max(100).default(5),
});

async function main(): Promise<void> {
  const { size, reps } = parseFlags(process.argv.slice(2), Flags, "usage: npm run backend -- [--size N] [--reps N]");
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
    console.log(
      JSON.stringify({ backend: info.name, detail: info.detail, size, reps, bestMs: +best.toFixed(2), gflops: +gflops.toFixed(2) }),
    );
  } finally {
    a.dispose();
    b.dispose();
  }
}

runMain("backend", main);
