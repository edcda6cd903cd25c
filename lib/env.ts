// Server settings from the environment, validated once: a bad value stops the server with a message naming it.
import os from "node:os";
import { z } from "zod";
import { CANDIDATES_FALLBACK, CANDIDATES_LIMIT } from "./generate/params";

const ServerEnv = z
  .object({
    /** The model folder registered as the first active version when the database has none. */
    TESSERA_MODEL_DIR: z.string().min(1).default("models/default"),
    /**
     * More model folders, comma-separated, each registered (not active) under its folder name when no version of
     * that name exists yet; folders that do not exist or hold no manifest.json are skipped. Empty: none.
     */
    TESSERA_EXTRA_MODEL_DIRS: z
      .string()
      .default("models/shapes")
      .transform((s) =>
        s
          .split(",")
          .map((d) => d.trim())
          .filter(Boolean),
      ),
    /** Model versions kept loaded at once (the active one counts); the least recently used is unloaded beyond it. */
    MODELS_LOADED: z.coerce.number().int().min(1).max(16).default(2),
    /**
     * Where generated PNGs go: "database" (the Image rows) or a folder (relative to the project root or absolute;
     * created if missing) that every server of one database shares. See lib/db/image-store.ts.
     */
    IMAGE_STORE: z.string().trim().min(1, 'IMAGE_STORE must be "database" or a folder path').default("database"),
    /** Queued + running jobs beyond which POST /api/generations answers 429. */
    QUEUE_LIMIT: z.coerce.number().int().min(1).max(10_000).default(20),
    /** Queued + running jobs of one client (see lib/client-id.ts) beyond which its requests answer 429. */
    QUEUE_LIMIT_PER_CLIENT: z.coerce.number().int().min(1).max(10_000).default(4),
    /** How long a worker's claim on a job holds without a heartbeat before another worker may take it over. */
    JOB_LEASE_MS: z.coerce.number().int().min(1000).max(3_600_000).default(30_000),
    /** Loops of the in-process worker, each generating one batch of jobs (see MAX_BATCH) at a time. */
    WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(8).default(1),
    /**
     * Worker threads that generate (lib/generate/threads.ts), each with its own tensor backend, database client and
     * loaded models, so sampling never blocks HTTP; default one per core (at most 16). 0: the worker runs on the
     * server's own event loop, as the tests that build one do.
     */
    WORKER_THREADS: z.coerce.number().int().min(0).max(16).default(Math.min(16, os.availableParallelism())),
    /**
     * Worker threads that draw variations and blends (lib/generate/vae-threads.ts) so that their tensor work never
     * runs on the web thread; requests beyond them wait, within the queue's limits.
     */
    VAE_THREADS: z.coerce.number().int().min(1).max(16).default(1),
    /**
     * Sequences (each job's candidates when its model reranks, else n) a worker loop samples in one pass, across
     * queued jobs for the same model: a batch of 8–16 costs far less per image than batch 1. A larger job runs alone.
     */
    MAX_BATCH: z.coerce.number().int().min(1).max(256).default(16),
    /**
     * What runs the transformer while sampling: ONNX Runtime (lib/model/onnx/, graphs written by this project, one
     * thread) or TensorFlow.js. Same codes for a seed but for ~1 draw in 10⁴ (float rounding); see lib/generate/engine.ts.
     */
    GENERATION_ENGINE: z.enum(["onnx", "tfjs"]).default("onnx"),
    /** Stream a partial picture every this many image tokens (0: never). */
    PARTIAL_EVERY: z.coerce.number().int().min(0).max(1024).default(8),
    /** Candidates a request samples for CLIP to rank when it does not say (models without a CLIP sample n). */
    CANDIDATES_DEFAULT: z.coerce.number().int().min(1).max(CANDIDATES_LIMIT).default(CANDIDATES_FALLBACK.default),
    /** The most candidates a request may ask for: each one costs about as much to sample as a kept image. */
    CANDIDATES_MAX: z.coerce.number().int().min(1).max(CANDIDATES_LIMIT).default(CANDIDATES_FALLBACK.max),
  })
  .refine((e) => e.CANDIDATES_DEFAULT <= e.CANDIDATES_MAX, {
    message: "CANDIDATES_DEFAULT must not exceed CANDIDATES_MAX",
    path: ["CANDIDATES_DEFAULT"],
  });
export type ServerEnv = z.infer<typeof ServerEnv>;

export function serverEnv(env: NodeJS.ProcessEnv = process.env): ServerEnv {
  const parsed = ServerEnv.safeParse(env);
  if (!parsed.success)
    throw new Error(`bad environment: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  return parsed.data;
}
