// Named queries on generation jobs and their images. A running job is always held by a lease (workerId +
// leaseUntil): its worker renews the lease by heartbeat, and every write a worker makes to a running job is
// conditional on still holding it, so a job taken over by another worker is never finished twice.
// Image rows are built in ./images.ts; their bytes go through the image store (IMAGE_STORE, ./image-store.ts).
import type { Db } from "./client";
import { deleteQuietly, imageKey, imageStore, putAll, type ImageStore } from "./image-store";
import { imageRow, type JobOutput } from "./images";

// Which queued jobs start next (a fair share across clients) lives in ./job-claims.ts.
export { claimMoreJobs, claimNextJob, queuePositionOfClient } from "./job-claims";

const PENDING = ["queued", "running"];

/** Queued + running jobs, all clients together. */
export function countPending(db: Db): Promise<number> {
  return db.generation.count({ where: { status: { in: PENDING } } });
}

/** Queued + running jobs of one client. */
export function countPendingForClient(db: Db, clientId: string): Promise<number> {
  return db.generation.count({ where: { clientId, status: { in: PENDING } } });
}

/** Queued jobs of one client (waiting: not started yet). */
export function countQueuedForClient(db: Db, clientId: string): Promise<number> {
  return db.generation.count({ where: { clientId, status: "queued" } });
}

/** Mean seconds a job ran (claim to finish) over the last `sample` finished jobs; null before the first. */
export async function recentJobSeconds(db: Db, sample = 20): Promise<number | null> {
  const rows = await db.generation.findMany({
    where: { status: "done", startedAt: { not: null }, finishedAt: { not: null } },
    orderBy: { finishedAt: "desc" },
    take: sample,
    select: { startedAt: true, finishedAt: true },
  });
  if (rows.length === 0) return null;
  return rows.reduce((s, r) => s + (r.finishedAt!.getTime() - r.startedAt!.getTime()), 0) / rows.length / 1000;
}

export function createGeneration(
  db: Db,
  data: { prompt: string; params: object; seed: number; modelVersionId: string | null; clientId: string; source?: Uint8Array | null },
) {
  const { source, ...rest } = data;
  return db.generation.create({ data: { ...rest, source: source ? new Uint8Array(source) : null }, select: { id: true, seed: true } });
}

/** The source picture of an image-primed job (a PNG at its model's size); null for an unknown job or one without. */
export async function getGenerationSource(db: Db, id: string): Promise<Uint8Array | null> {
  return (await db.generation.findUnique({ where: { id }, select: { source: true } }))?.source ?? null;
}

/** Extends the lease; false when the job is no longer this worker's (taken over, deleted or finished). */
export async function renewLease(db: Db, id: string, workerId: string, leaseMs: number): Promise<boolean> {
  const { count } = await db.generation.updateMany({
    where: { id, workerId, status: "running" },
    data: { leaseUntil: new Date(Date.now() + leaseMs) },
  });
  return count === 1;
}

export async function reportProgress(db: Db, id: string, workerId: string, progress: number): Promise<void> {
  await db.generation.updateMany({ where: { id, workerId, status: "running" }, data: { progress } });
}

/**
 * Stores the images (kept ones at index 0..n−1, then the rejected candidates) and marks the job done — with the
 * model version that generated it, and no error left over from an earlier attempt — in one transaction. False
 * (and nothing written) when the lease is no longer held.
 *
 * With a folder store the files are written first and the rows that name them after, so a committed row's file
 * always exists; when the transaction does not commit, the files just written are removed again (best effort: a
 * file left behind costs disk space, never a picture).
 */
export async function completeJob(
  db: Db,
  id: string,
  workerId: string,
  output: JobOutput,
  timings: Record<string, number>,
  modelVersionId: string,
  store: ImageStore = imageStore(),
): Promise<boolean> {
  const images = [
    ...output.images.map((img) => ({ img, rejected: false })),
    ...(output.rejected ?? []).map((img) => ({ img, rejected: true })),
  ];
  const bytes = await putAll(
    store,
    images.map(({ img }, index) => ({ key: imageKey(id, index), png: img.png })),
  );
  const written = bytes.flatMap((b) => (b.storeKey === null ? [] : [b.storeKey]));
  let committed: boolean;
  try {
    committed = await db.$transaction(async (tx) => {
      const { count } = await tx.generation.updateMany({
        where: { id, workerId, status: "running" },
        data: {
          status: "done",
          progress: 1,
          timings,
          modelVersionId,
          candidates: output.candidates ?? null,
          error: null,
          workerId: null,
          leaseUntil: null,
          finishedAt: new Date(),
        },
      });
      if (count !== 1) return false;
      await tx.image.createMany({ data: images.map(({ img, rejected }, i) => imageRow(id, img, i, rejected, bytes[i])) });
      return true;
    });
  } catch (err) {
    // The commit may have happened even so (the connection dropped after COMMIT): keep the files a row names —
    // all of them when the database cannot be asked.
    const named = written.length
      ? await db.image.findMany({ where: { storeKey: { in: written } }, select: { storeKey: true } }).catch(() => null)
      : [];
    if (named)
      await deleteQuietly(
        store,
        written.filter((k) => !named.some((r) => r.storeKey === k)),
        `generation ${id} was not stored`,
      );
    throw err;
  }
  if (!committed) await deleteQuietly(store, written, `generation ${id} is no longer this worker's`);
  return committed;
}

/** Fails a job this worker holds; false when it no longer holds it. */
export async function failJob(db: Db, id: string, workerId: string, error: string): Promise<boolean> {
  const { count } = await db.generation.updateMany({
    where: { id, workerId, status: "running" },
    data: { status: "failed", error, workerId: null, leaseUntil: null, finishedAt: new Date() },
  });
  return count === 1;
}

export const REQUEUED_NOTE = "interrupted (its worker stopped: server restart or lost database); re-queued";
export const GAVE_UP_ERROR = "interrupted twice (its worker stopped each time); giving up";

/**
 * Takes over running jobs whose worker is gone: those whose lease has expired (or that have none, from before
 * leases), and those held by a worker `isDead` recognises. A job claimed `maxAttempts` times is failed instead of
 * re-queued, so a job that crashes its server cannot loop. Each takeover is conditional on the lease it saw.
 */
export async function takeOverAbandoned(db: Db, isDead: (workerId: string) => boolean = () => false, maxAttempts = 2, now = new Date()) {
  const running = await db.generation.findMany({
    where: { status: "running" },
    select: { id: true, workerId: true, leaseUntil: true, attempts: true },
  });
  let requeued = 0;
  let failed = 0;
  for (const job of running) {
    const abandoned = !job.leaseUntil || job.leaseUntil <= now || !job.workerId || isDead(job.workerId);
    if (!abandoned) continue;
    const held = { id: job.id, status: "running", workerId: job.workerId, leaseUntil: job.leaseUntil };
    const giveUp = job.attempts >= maxAttempts;
    const { count } = await db.generation.updateMany({
      where: held,
      data: giveUp
        ? { status: "failed", error: GAVE_UP_ERROR, workerId: null, leaseUntil: null, finishedAt: now }
        : { status: "queued", note: REQUEUED_NOTE, progress: 0, startedAt: null, workerId: null, leaseUntil: null },
    });
    if (count === 1) giveUp ? failed++ : requeued++;
  }
  return { requeued, failed };
}

/** Status fields the event stream needs. */
export function getJobStatus(db: Db, id: string) {
  return db.generation.findUnique({ where: { id }, select: { status: true, error: true, progress: true } });
}

/** A gallery image as a priming source names it so. */
type GalleryRef = { generationId: string; index: number };

const shownImage = { id: true, index: true, width: true, height: true, score: true, bitsPerDim: true, atypical: true } as const;

/**
 * One job with its kept images (with their CLIP scores and typicality), the candidates CLIP rejected (best first)
 * and its model, for the job API and the detail page.
 */
export async function getGeneration(db: Db, id: string) {
  const job = await db.generation.findUnique({
    where: { id },
    // The source picture has its own address (GET /api/generations/[id]/source); `primed` says there is one.
    omit: { clientId: true, workerId: true, leaseUntil: true, source: true },
    include: {
      images: { select: { ...shownImage, rejected: true }, orderBy: { index: "asc" } },
      modelVersion: { select: { id: true, name: true } },
    },
  });
  if (!job) return null;
  const strip = ({ rejected: _, ...img }: (typeof job.images)[number]) => img;
  const p = (job.params ?? {}) as { init?: unknown; keepRows?: unknown };
  return {
    ...job,
    /** An image-primed job: the rows it kept and where its source came from (a gallery image, or "upload"). */
    primed: typeof p.keepRows === "number" ? { keepRows: p.keepRows, from: p.init as GalleryRef | "upload" } : null,
    images: job.images.filter((i) => !i.rejected).map(strip),
    rejected: job.images.filter((i) => i.rejected).map(strip),
  };
}

/** Deletes a job, (by cascade) its images, and then their files in a folder store; false for an unknown id. */
export async function deleteGeneration(db: Db, id: string, store?: ImageStore): Promise<boolean> {
  const deleted = await db.$transaction(async (tx) => {
    // Lock the job's row before reading its images' keys: a completeJob racing this delete has then either
    // committed already (its images are read below) or will find no job (and remove its own files).
    const { count } = await tx.generation.updateMany({ where: { id }, data: { leaseUntil: null } });
    if (count !== 1) return null;
    const images = await tx.image.findMany({ where: { generationId: id, storeKey: { not: null } }, select: { storeKey: true } });
    await tx.generation.delete({ where: { id } });
    return images.map((i) => i.storeKey!);
  });
  // After the commit: were the delete to fail, the files must still be there for the rows that remain.
  if (deleted?.length) await deleteQuietly(store ?? imageStore(), deleted, `generation ${id} was deleted`);
  return deleted !== null;
}
