// The generation job queue, persisted in the database so jobs survive a restart: enqueue (with a queue limit),
// claim the oldest queued job atomically, finish it together with its images in one transaction (a job is never
// "done" without its pictures), fail it with a reason, and on boot put back jobs a dead process left running.
import { z } from "zod";
import type { Db } from "../db/client";

export const GenerationParams = z.object({
  prompt: z
    .string({ error: "prompt is required" })
    .transform((s) => s.trim())
    .pipe(z.string().min(1, "the prompt is empty").max(200, "the prompt is longer than 200 characters")),
  n: z.coerce.number().int().min(1, "n must be 1–9").max(9, "n must be 1–9").default(4),
  guidance: z.coerce.number().min(1, "guidance must be 1–10").max(10, "guidance must be 1–10").default(3),
  temperature: z.coerce.number().min(0.1, "temperature must be 0.1–2").max(2, "temperature must be 0.1–2").default(1),
  topK: z.coerce.number().int().min(0, "topK must be 0–512").max(512, "topK must be 0–512").default(64),
  seed: z.coerce.number().int().min(0).max(2 ** 31 - 1).optional(),
});
export type GenerationParams = z.infer<typeof GenerationParams>;

export class QueueFullError extends Error {
  constructor(
    readonly pending: number,
    readonly retryAfterS: number,
  ) {
    super(`the queue is full (${pending} jobs waiting); try again in ${retryAfterS} s`);
  }
}

export interface EnqueueOptions {
  limit: number;
  modelVersionId: string | null;
  /** Rough seconds per queued job, for Retry-After. */
  secondsPerJob?: number;
}

export async function enqueue(db: Db, params: GenerationParams, o: EnqueueOptions): Promise<{ id: string; seed: number }> {
  const pending = await db.generation.count({ where: { status: { in: ["queued", "running"] } } });
  if (pending >= o.limit) throw new QueueFullError(pending, Math.max(1, Math.ceil((o.secondsPerJob ?? 3) * pending)));
  const seed = params.seed ?? Math.floor(Math.random() * 2 ** 31);
  const { prompt, ...rest } = params;
  const gen = await db.generation.create({ data: { prompt, params: { ...rest, seed }, seed, modelVersionId: o.modelVersionId } });
  return { id: gen.id, seed };
}

/** Marks the oldest queued job running and returns it, or null; safe against another worker claiming it first. */
export async function claimNext(db: Db) {
  for (;;) {
    const next = await db.generation.findFirst({ where: { status: "queued" }, orderBy: { createdAt: "asc" } });
    if (!next) return null;
    const claimed = await db.generation.updateMany({ where: { id: next.id, status: "queued" }, data: { status: "running", startedAt: new Date(), progress: 0 } });
    if (claimed.count === 1) return { ...next, status: "running" };
  }
}

export async function reportProgress(db: Db, id: string, progress: number): Promise<void> {
  await db.generation.update({ where: { id }, data: { progress } });
}

export interface FinishedImage {
  png: Buffer;
  width: number;
  height: number;
}

/** Stores the images and marks the job done — with the model version that actually generated it — in one transaction. */
export async function complete(db: Db, id: string, images: FinishedImage[], timings: Record<string, number>, modelVersionId: string): Promise<void> {
  await db.$transaction([
    db.image.createMany({ data: images.map((img, index) => ({ generationId: id, index, png: new Uint8Array(img.png), width: img.width, height: img.height })) }),
    db.generation.update({ where: { id }, data: { status: "done", progress: 1, timings, modelVersionId, finishedAt: new Date() } }),
  ]);
}

export async function fail(db: Db, id: string, error: string): Promise<void> {
  await db.generation.update({ where: { id }, data: { status: "failed", error, finishedAt: new Date() } });
}

/**
 * On boot: jobs left "running" by a process that died are queued again (their work is lost, the request is not);
 * those already retried once are failed with a reason instead, so a job that crashes the server cannot loop.
 */
export async function recoverOnBoot(db: Db): Promise<{ requeued: number; failed: number }> {
  const stale = await db.generation.findMany({ where: { status: "running" } });
  let requeued = 0;
  let failed = 0;
  for (const job of stale) {
    if (job.error?.startsWith("interrupted")) {
      await fail(db, job.id, "interrupted twice by a server restart; giving up");
      failed++;
    } else {
      await db.generation.update({ where: { id: job.id }, data: { status: "queued", progress: 0, startedAt: null, error: "interrupted by a server restart; re-queued" } });
      requeued++;
    }
  }
  return { requeued, failed };
}
