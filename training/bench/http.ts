// End-to-end HTTP benchmark: starts the real server (npm start) on 127.0.0.1 with its own database — or, with a
// PostgreSQL URL, two servers sharing it (issue 18: many servers, one queue) — sends a bounded number of generation
// requests from 1, 8 and 32 concurrent clients, and measures request-to-images latency (POST, then the job's event
// stream until `done`, as the Create page waits), images per second, /api/health latency under that load, and the
// servers' peak resident memory (sampled through /api/health).
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";

export interface LatencyStats {
  requests: number;
  p50Ms: number;
  p95Ms: number;
}

export interface RowStats extends LatencyStats {
  /** Images finished per second of the row's wall time (all clients together). */
  imagesPerS: number;
}

export function percentile(values: number[], p: number): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const stats = (ms: number[]): LatencyStats => ({
  requests: ms.length,
  p50Ms: Math.round(percentile(ms, 50)),
  p95Ms: Math.round(percentile(ms, 95)),
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

/** Reads a job's Server-Sent Events until `done` (resolves) or `failed` (throws). */
async function untilDone(base: string, id: string): Promise<void> {
  const res = await fetch(`${base}/api/generations/${id}/events`);
  if (!res.ok || !res.body) throw new Error(`GET /api/generations/${id}/events answered ${res.status}`);
  const decoder = new TextDecoder();
  let text = "";
  const reader = res.body.getReader();
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    text += decoder.decode(chunk.value, { stream: true });
    if (/^event: done$/m.test(text)) return void reader.cancel();
    const failed = text.match(/^event: failed\ndata: (.*)$/m);
    if (failed) throw new Error(`generation failed: ${failed[1]}`);
  }
  throw new Error(`the event stream of ${id} ended without done`);
}

/** One generation, from POST to a finished job, in ms. `candidates` 1: no reranking (the server samples n). */
async function generateOnce(base: string, n: number, i: number, candidates: number): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${base}/api/generations`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ prompt: "grinning face, noto", n, seed: i, candidates: Math.max(n, candidates) }),
  });
  if (res.status !== 202) throw new Error(`POST /api/generations answered ${res.status}: ${await res.text()}`);
  const { id } = (await res.json()) as { id: string };
  await untilDone(base, id);
  return performance.now() - started;
}

export interface HttpBenchResult {
  /** Servers sharing the queue (2 on PostgreSQL with --pg, else 1 on its own SQLite file). */
  servers: number;
  database: "sqlite" | "postgresql";
  generation: Record<string, RowStats>;
  healthUnderLoad: LatencyStats;
  peakRssMiB: number;
}

export interface Server {
  base: string;
  stop: () => void;
}

/** `npm start` in its own process group on a free port; stop() takes the group down (tsx, next and all). */
export async function startServer(env: Record<string, string>): Promise<Server> {
  const port = await freePort();
  // TESSERA_BENCH_SERVER_LOG=FILE keeps the server's output (to see why a bench's requests failed).
  const logFile = process.env.TESSERA_BENCH_SERVER_LOG;
  const out = logFile ? fs.openSync(logFile, "a") : "ignore";
  const server: ChildProcess = spawn("npm", ["start"], {
    detached: true,
    stdio: ["ignore", out, out],
    env: {
      ...process.env,
      PORT: String(port),
      HOST: "127.0.0.1",
      // The test build folder: shared with the e2e tests, never the one a running `npm start` serves.
      TESSERA_DIST_DIR: ".next-e2e",
      QUEUE_LIMIT: "1000",
      // The bench's clients all come from one address: the per-client cap would answer them 429.
      QUEUE_LIMIT_PER_CLIENT: "1000",
      // …and 32 clients with their event streams and the health poller are more connections than the default cap.
      CONNECTIONS_PER_CLIENT: "0",
      NEXT_TELEMETRY_DISABLED: "1",
      ...env,
    },
  });
  if (typeof out === "number") fs.closeSync(out); // the child holds its own copy of the descriptor
  return {
    base: `http://127.0.0.1:${port}`,
    stop: () => {
      try {
        process.kill(-server.pid!, "SIGTERM");
      } catch {
        // already gone
      }
    },
  };
}

/**
 * The generation rows: n images for c clients without reranking (on two servers: 4 images only); with a CLIP in
 * the model, also the issue-16 row (a 4-image request that samples 16 candidates and keeps CLIP's best 4).
 * --smoke checks the plumbing with 1 and 2 clients where the bench measures 1, 8 and 32.
 */
export function generationRows(o: {
  smoke: boolean;
  twoServers: boolean;
  rerank: boolean;
}): { n: number; clients: number; candidates: number }[] {
  const many = o.smoke ? [1, 2] : [1, 8, 32];
  if (o.twoServers) return many.map((clients) => ({ n: 4, clients, candidates: 1 }));
  return [
    ...many.slice(0, 2).map((clients) => ({ n: 1, clients, candidates: 1 })),
    ...many.map((clients) => ({ n: 4, clients, candidates: 1 })),
    ...(o.rerank ? [{ n: 4, clients: 1, candidates: 16 }] : []),
  ];
}

/** A row's name in the results: `images4_clients8`, `images4_clients1_candidates16`. */
export const rowKey = (r: { n: number; clients: number; candidates: number }) =>
  `images${r.n}_clients${r.clients}${r.candidates > 1 ? `_candidates${r.candidates}` : ""}`;

export async function benchHttp(o: {
  quick: boolean;
  /** One request per client, 1 or 2 clients: checks the plumbing (training/bench/bench.test.ts), measures nothing. */
  smoke?: boolean;
  modelDir?: string;
  /** A scratch PostgreSQL database: two servers share it (and one image folder) instead of one on SQLite. */
  pgUrl?: string;
  log?: (s: string) => void;
}): Promise<HttpBenchResult> {
  const log = o.log ?? (() => {});
  const dbDir = path.join("data", "bench");
  fs.rmSync(dbDir, { recursive: true, force: true });
  const common = {
    TESSERA_MODEL_DIR: o.modelDir ?? process.env.TESSERA_MODEL_DIR ?? "models/default",
    TESSERA_EXTRA_MODEL_DIRS: "",
  };
  const servers: Server[] = [];
  // Servers are their own process groups (detached): if the bench itself is stopped (Ctrl-C, a test's timeout),
  // take them down with it instead of leaving servers that keep both cores busy.
  const stopAll = () => servers.forEach((s) => s.stop());
  const onSignal = (signal: NodeJS.Signals) => {
    stopAll();
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  process.on("exit", stopAll);
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  let peakRss = 0;
  const health = async (base: string) => {
    const t = performance.now();
    const body = (await (await fetch(`${base}/api/health`)).json()) as { rssMiB: number; model: { loaded: boolean; rerank?: boolean } };
    peakRss = Math.max(peakRss, body.rssMiB);
    return { ms: performance.now() - t, loaded: body.model.loaded, rerank: body.model.rerank === true };
  };
  const ready = async (base: string) => {
    const deadline = Date.now() + 240_000;
    for (;;) {
      const h = await health(base).catch(() => null);
      if (h?.loaded) return h;
      if (Date.now() > deadline) throw new Error(`the server on ${base} did not become ready with a loaded model within 240 s`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  try {
    let rerank: boolean;
    if (o.pgUrl) {
      // Both cores are shared by the two servers: one generation thread each.
      const env = { ...common, DATABASE_URL: o.pgUrl, IMAGE_STORE: path.join(dbDir, "images"), WORKER_THREADS: "1" };
      // The first builds the app if it is stale; the second starts once it is up, so they never build at once.
      servers.push(await startServer(env));
      log(`starting server 1 of 2 on ${servers[0].base} (PostgreSQL; building if needed)…`);
      rerank = (await ready(servers[0].base)).rerank;
      servers.push(await startServer(env));
      log(`starting server 2 of 2 on ${servers[1].base}…`);
      await ready(servers[1].base);
    } else {
      servers.push(await startServer({ ...common, DATABASE_URL: `file:./${dbDir}/tessera.db` }));
      log(`starting the server on ${servers[0].base} (building if needed)…`);
      rerank = (await ready(servers[0].base)).rerank;
    }
    const generation: Record<string, RowStats> = {};
    const healthMs: number[] = [];
    let loading = true;
    const sampler = (async () => {
      while (loading) {
        healthMs.push((await health(servers[0].base)).ms);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    // Clients are spread round-robin over the servers.
    const runs = generationRows({ smoke: o.smoke === true, twoServers: !!o.pgUrl, rerank });
    for (const { n, clients, candidates } of runs) {
      const perClient = o.smoke ? 1 : o.quick ? (clients === 1 ? 2 : 1) : clients === 1 ? 6 : clients === 8 ? 3 : 2;
      const times: number[] = [];
      const started = performance.now();
      await Promise.all(
        Array.from({ length: clients }, async (_, c) => {
          const base = servers[c % servers.length].base;
          for (let k = 0; k < perClient; k++) times.push(await generateOnce(base, n, c * 100 + k, candidates));
        }),
      );
      const wallS = (performance.now() - started) / 1000;
      const key = rowKey({ n, clients, candidates });
      generation[key] = { ...stats(times), imagesPerS: Math.round(((n * times.length) / wallS) * 10) / 10 };
      log(`${key}: p50 ${generation[key].p50Ms} ms, p95 ${generation[key].p95Ms} ms, ${generation[key].imagesPerS} images/s`);
    }
    loading = false;
    await sampler;
    return {
      servers: servers.length,
      database: o.pgUrl ? "postgresql" : "sqlite",
      generation,
      healthUnderLoad: stats(healthMs),
      peakRssMiB: peakRss,
    };
  } finally {
    stopAll();
    process.off("exit", stopAll);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
