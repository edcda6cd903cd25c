// The generation service of this process: one database client, one model registry, one worker. Started on first
// use (or from instrumentation at boot): registers the shipped model if the database has none and the extra model
// folders (TESSERA_EXTRA_MODEL_DIRS) it lacks, re-queues jobs a previous process left running, then starts the
// worker. Kept on globalThis because Next bundles routes separately.
import { getDb, type Db } from "../db/client";
import { serverEnv } from "../env";
import { ensureDefaultVersion, ensureExtraVersions } from "./registration";
import { ModelRegistry } from "./registry";
import { GenerationWorker } from "./worker";

export interface GenerationService {
  db: Db;
  registry: ModelRegistry;
  worker: GenerationWorker;
  queueLimit: number;
  queueLimitPerClient: number;
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
  const worker = new GenerationWorker(db, registry, {
    concurrency: env.WORKER_CONCURRENCY,
    partialEvery: env.PARTIAL_EVERY,
    leaseMs: env.JOB_LEASE_MS,
    log: console,
  });
  // Jobs a dead process on this host left running are taken over at once; other expired leases too.
  const recovered = await worker.sweep().catch((err: unknown) => {
    console.error(`[tessera] cannot look for interrupted jobs yet (the worker retries): ${(err as Error).message}`);
    return { requeued: 0, failed: 0 };
  });
  if (recovered.requeued || recovered.failed)
    console.info(`[tessera] after a restart: ${recovered.requeued} job(s) re-queued, ${recovered.failed} failed`);
  worker.start();
  return {
    db,
    registry,
    worker,
    queueLimit: env.QUEUE_LIMIT,
    queueLimitPerClient: env.QUEUE_LIMIT_PER_CLIENT,
    concurrency: env.WORKER_CONCURRENCY,
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
