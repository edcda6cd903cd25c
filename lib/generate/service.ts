// The generation service of this process: one database client, one model registry, one worker. Started on first
// use (or from instrumentation at boot): registers the shipped model if the database has none, re-queues jobs a
// previous process left running, then starts the worker. Kept on globalThis because Next bundles routes separately.
import { getDb, type Db } from "../db/client";
import { serverEnv } from "../env";
import { recoverOnBoot } from "./queue";
import { ensureDefaultVersion, ModelRegistry } from "./registry";
import { GenerationWorker } from "./worker";

export interface GenerationService {
  db: Db;
  registry: ModelRegistry;
  worker: GenerationWorker;
  queueLimit: number;
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
  const recovered = await recoverOnBoot(db);
  if (recovered.requeued || recovered.failed) console.info(`[tessera] after a restart: ${recovered.requeued} job(s) re-queued, ${recovered.failed} failed`);
  const registry = new ModelRegistry(db);
  const worker = new GenerationWorker(db, registry, { concurrency: env.WORKER_CONCURRENCY, partialEvery: env.PARTIAL_EVERY, log: console });
  worker.start();
  return { db, registry, worker, queueLimit: env.QUEUE_LIMIT };
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
