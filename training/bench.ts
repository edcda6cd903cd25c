// `npm run bench [-- --quick] [--out bench/results.json] [--no-http] [--no-training] [--pg URL] [--smoke]`: the numbers that
// matter, measured side by side in one run on the active backend; `--pg` adds the HTTP rows with two servers
// sharing that (scratch) PostgreSQL database (absolute times on a shared 2-core machine are noisy; ratios measured in
// the same run are not). Prints a table and writes JSON. `--smoke` checks the plumbing only (tiny models, one request
// per client, 1 or 2 clients a row): what the bench's test runs; its numbers mean nothing.
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { DEFAULT_TRANSFORMER_CONFIG, type TransformerConfig } from "../lib/model/transformer-config";
import { DEFAULT_VQ_CONFIG, type VQConfig } from "../lib/model/vq-config";
import { initBackend } from "../lib/tensor/backend";
import { registerFastGradients } from "../lib/tensor/gradients";
import { benchHttp } from "./bench/http";
import { imageTokenizerThroughput, matmulGflops, transformerThroughput } from "./bench/models";
import { trainingThroughput } from "./bench/training";
import { flag, parseFlags, runMain } from "./cli";

const Flags = z.object({
  quick: flag(),
  smoke: flag(),
  out: z.string().default(path.join("bench", "results.json")),
  noHttp: flag(),
  noTraining: flag(),
  pg: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "--pg takes a postgresql:// URL of a scratch database")
    .optional(),
});

const f = (x: number, digits = 0) => x.toFixed(digits);

// --smoke's models: the shapes of the real ones at a fraction of the width (seconds, not minutes).
const SMOKE_VQ: VQConfig = {
  ...DEFAULT_VQ_CONFIG,
  encoderWidths: [8, 16],
  decoderWidths: [8, 16],
  outputWidth: 8,
  codebookSize: 32,
  embedDim: 8,
};
const SMOKE_GPT: TransformerConfig = { ...DEFAULT_TRANSFORMER_CONFIG, nLayer: 1, nHead: 2, nEmbd: 32 };

export function formatBench(r: BenchResult): string {
  const t = r.transformer;
  const rows: [string, string][] = [
    ["backend", `${r.backend} (${r.detail})`],
    ["matMul 1024³ (ceiling)", `${f(r.matmul1024Gflops, 1)} GFLOP/s`],
    [
      "image tokenizer encode / decode",
      `${f(r.imageTokenizer.encodeImagesPerS)} / ${f(r.imageTokenizer.decodeImagesPerS)} img/s (batch 64)`,
    ],
    ["image tokenizer training", `${f(r.imageTokenizer.trainImagesPerS, 1)} img/s (batch 64)`],
    ["generation, KV cache, b1 / b8", `${f(t.generationTokensPerS.cacheB1)} / ${f(t.generationTokensPerS.cacheB8)} tok/s`],
    [
      "generation, no cache, b1 / b8",
      `${f(t.generationTokensPerS.noCacheB1)} / ${f(t.generationTokensPerS.noCacheB8)} tok/s (cache ×${f(t.cacheSpeedupB1, 1)} / ×${f(t.cacheSpeedupB8, 1)})`,
    ],
    ["transformer training", `${f(t.trainTokensPerS)} tok/s (batch ${t.trainBatch})`],
    [
      "achieved GFLOP/s (of ceiling)",
      `gen b1 ${f(t.achievedGflops.generationB1, 1)} (${f((100 * t.achievedGflops.generationB1) / r.matmul1024Gflops)} %), b8 ${f(t.achievedGflops.generationB8, 1)} (${f((100 * t.achievedGflops.generationB8) / r.matmul1024Gflops)} %), training ${f(t.achievedGflops.training, 1)} (${f((100 * t.achievedGflops.training) / r.matmul1024Gflops)} %)`,
    ],
  ];
  if (r.training) {
    const g = r.training;
    const n = g.replicas;
    rows.push([
      "matMul ceiling, 1 core / " + n + " cores",
      `${f(g.matmulCeilingGflops.oneCore, 1)} / ${f(g.matmulCeilingGflops.allCores, 1)} GFLOP/s`,
    ]);
    rows.push([
      `GPT training loop, 1 / ${n} workers`,
      `${f(g.gpt.tokensPerS.one)} / ${f(g.gpt.tokensPerS.all)} tok/s (batch ${g.gpt.batch}; ×${f(g.gpt.scaling, 2)}; ${f(g.gpt.achievedGflops.all, 1)} GFLOP/s = ${f((100 * g.gpt.achievedGflops.all) / g.matmulCeilingGflops.allCores)} % of the ${n}-core ceiling)`,
    ]);
    rows.push([
      `GPT training loop, ONNX Runtime, ${n} threads`,
      `${f(g.gpt.tokensPerS.ort)} tok/s (×${f(g.gpt.ortOverTfjsAll, 2)} the tfjs ${n}-worker loop); 8 × 512: ${f(g.gpt.large8x512OrtTokensPerS)} tok/s`,
    ]);
    rows.push([
      `VQ-VAE training loop, 1 / ${n} workers`,
      `${f(g.vq.imagesPerS.one, 1)} / ${f(g.vq.imagesPerS.all, 1)} img/s (batch ${g.vq.batch}; ×${f(g.vq.scaling, 2)})`,
    ]);
    rows.push([
      `VQ-VAE training loop, ONNX Runtime, ${n} threads`,
      `${f(g.vq.imagesPerS.ort, 1)} img/s (×${f(g.vq.ortOverTfjsAll, 2)} the tfjs ${n}-worker loop)`,
    ]);
    rows.push([
      `CLIP training loop, ${n} workers / ONNX Runtime, ${n} threads`,
      `${f(g.clip.imagesPerS.all, 1)} / ${f(g.clip.imagesPerS.ort, 1)} img/s (batch ${g.clip.batch}; ×${f(g.clip.ortOverTfjsAll, 2)}; ORT contrasts the whole batch, tfjs each worker's shard)`,
    ]);
  }
  for (const http of [r.http, r.httpTwoServers]) {
    if (!http) continue;
    const where = http.servers > 1 ? `${http.servers} servers, ${http.database}` : http.database;
    for (const [k, v] of Object.entries(http.generation))
      rows.push([
        `HTTP (${where}) ${k.replace("images", "").replace("_clients", " image(s), clients ").replace("_candidates", ", candidates ")}`,
        `p50 ${v.p50Ms} ms, p95 ${v.p95Ms} ms, ${v.imagesPerS} images/s (${v.requests} requests)`,
      ]);
    rows.push([`/api/health under load (${where})`, `p50 ${http.healthUnderLoad.p50Ms} ms, p95 ${http.healthUnderLoad.p95Ms} ms`]);
    rows.push([`server peak RSS (${where}, sampled)`, `${http.peakRssMiB} MiB`]);
  }
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join("\n");
}

export type BenchResult = {
  backend: string;
  detail: string;
  quick: boolean;
  /** Tiny models and one request per HTTP row: the plumbing, not a measurement. */
  smoke: boolean;
  time: string;
  matmul1024Gflops: number;
  imageTokenizer: Awaited<ReturnType<typeof imageTokenizerThroughput>>;
  transformer: Awaited<ReturnType<typeof transformerThroughput>>;
  training: Awaited<ReturnType<typeof trainingThroughput>> | null;
  http: Awaited<ReturnType<typeof benchHttp>> | null;
  /** With --pg: the same requests spread over two servers on one PostgreSQL queue. */
  httpTwoServers: Awaited<ReturnType<typeof benchHttp>> | null;
};

runMain("bench", async () => {
  const flags = parseFlags(
    process.argv.slice(2),
    Flags,
    "usage: npm run bench -- [--quick] [--out FILE] [--no-http] [--no-training] [--pg postgresql://…] [--smoke]",
  );
  const backend = await initBackend({ log: { info() {}, warn: console.warn } });
  registerFastGradients();
  const quick = flags.quick || flags.smoke;
  const reps = quick ? 1 : 3;
  const http = (pgUrl?: string) => benchHttp({ quick, smoke: flags.smoke, pgUrl, log: (s) => console.error(`[bench] ${s}`) });
  const result: BenchResult = {
    backend: backend.name,
    detail: backend.detail,
    quick,
    smoke: flags.smoke,
    time: new Date().toISOString(),
    matmul1024Gflops: await matmulGflops(flags.smoke ? 128 : 1024, reps),
    imageTokenizer: await imageTokenizerThroughput(reps, quick ? 1 : 3, flags.smoke ? SMOKE_VQ : DEFAULT_VQ_CONFIG),
    transformer: await transformerThroughput(reps, quick ? 1 : 2, flags.smoke ? SMOKE_GPT : DEFAULT_TRANSFORMER_CONFIG),
    training: flags.noTraining ? null : await trainingThroughput(quick),
    http: flags.noHttp ? null : await http(),
    httpTwoServers: flags.noHttp || !flags.pg ? null : await http(flags.pg),
  };
  console.log(formatBench(result));
  fs.mkdirSync(path.dirname(flags.out), { recursive: true });
  fs.writeFileSync(flags.out, JSON.stringify(result, null, 2) + "\n");
  console.log(`wrote ${flags.out}`);
});
