// The generation service of this process: one database client, one model registry, and what runs the jobs —
// WORKER_THREADS generation threads (./threads.ts), or with WORKER_THREADS=0 one worker on this event loop. Started
// on first use (or from instrumentation at boot): registers the shipped model if the database has none and the
// extra model folders (TESSERA_EXTRA_MODEL_DIRS) it lacks, re-queues jobs a previous process left running, then
// starts the worker(s). The registry here serves what the main thread does itself (tokenize, semantic search, the
// model list); each thread has its own. Kept on globalThis because Next bundles routes separately.
import { getDb, type Db } from "../db/client";
import { takeOverAbandoned } from "../db/generations";
import { serverEnv } from "../env";
import { workerIsDeadOnThisHost } from "./liveness";
import { ensureDefaultVersion, ensureExtraVersions } from "./registration";
import { ModelRegistry } from "./registry";
import { GenerationThreads, type JobRunner, type Swept } from "./threads";
import { GenerationWorker } from "./worker";

export interface GenerationService {
  db: Db;
  registry: ModelRegistry;
  /** Runs the jobs: the thread pool, or the in-process worker (WORKER_THREADS=0). */
  worker: JobRunner;
  /** The thread pool when WORKER_THREADS ≥ 1, for the health report. */
  threads: GenerationThreads | null;
  queueLimit: number;
  queueLimitPerClient: number;
  /** Batches generated at once: threads (at least 1) × WORKER_CONCURRENCY. */
  concurrency: number;
}

const state = globalThis as unknown as { tesseraGeneration?: Promise<GenerationService> };

async function start(): Promise<GenerationService> {
  const env = serverEnv();
  const db = getDb();
  try {
    await ensureDefaultVersion(db, env.TESSERA_MODEL_DIR);
  } catch (err) {
    console.warn(`[tessera] no model registered: ${(err as Error).message}`);
  }
  try {
    const extra = await ensureExtraVersions(db, env.TESSERA_EXTRA_MODEL_DIRS);
    if (extra.registered.length) console.info(`[tessera] registered model version(s): ${extra.registered.join(", ")}`);
    for (const f of extra.failed) console.warn(`[tessera] cannot register the model folder ${f.dir}: ${f.message}`);
  } catch (err) {
    console.warn(`[tessera] cannot register the extra model folders: ${(err as Error).message}`);
  }
  const registry = new ModelRegistry(db, process.cwd(), env.MODELS_LOADED);
  // Jobs a dead process on this host left running are taken over at once; other expired leases too. Before any
  // thread starts, so that no job of this process can be among them.
  const recovered = await takeOverAbandoned(db, workerIsDeadOnThisHost).catch((err: unknown): Swept => {
    console.error(`[tessera] cannot look for interrupted jobs yet (the worker retries): ${(err as Error).message}`);
    return { requeued: 0, failed: 0 };
  });
  if (recovered.requeued || recovered.failed)
    console.info(`[tessera] after a restart: ${recovered.requeued} job(s) re-queued, ${recovered.failed} failed`);
  let worker: JobRunner;
  let threads: GenerationThreads | null = null;
  if (env.WORKER_THREADS > 0) {
    worker = threads = new GenerationThreads({ threads: env.WORKER_THREADS, log: console });
    threads.start();
  } else {
    const inProcess = new GenerationWorker(db, registry, {
      concurrency: env.WORKER_CONCURRENCY,
      partialEvery: env.PARTIAL_EVERY,
      leaseMs: env.JOB_LEASE_MS,
      log: console,
    });
    inProcess.start();
    worker = inProcess;
  }
  return {
    db,
    registry,
    worker,
    threads,
    queueLimit: env.QUEUE_LIMIT,
    queueLimitPerClient: env.QUEUE_LIMIT_PER_CLIENT,
    concurrency: Math.max(1, env.WORKER_THREADS) * env.WORKER_CONCURRENCY,
  };
}

export function generationService(): Promise<GenerationService> {
  state.tesseraGeneration ??= start().catch((err: unknown) => {
    state.tesseraGeneration = undefined;
    throw err;
  });
  return state.tesseraGeneration;
}

/** The service if it has started, without starting it (for health checks). */
export async function generationServiceIfStarted(): Promise<GenerationService | undefined> {
  return state.tesseraGeneration?.catch(() => undefined);
}
