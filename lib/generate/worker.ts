// The in-process worker: takes queued jobs from the database under a lease, generates with the job's model version
// (chosen at enqueue; the active one for a job that names none), reranking candidates with its CLIP when it has
// one, stores the kept images — and the rejected candidates, flagged — with their scores at the job's completion,
// and publishes progress (with partial pictures) to subscribers such as an SSE route. A job is never left running
// without a live worker: the lease is renewed by heartbeat while the job runs, writes that fail (database locked,
// read-only or unreachable) are retried until the database is back or a deadline passes (then the lease lapses),
// and every worker's idle loop takes over jobs whose lease has expired (their worker died or gave up).
// A free loop samples several jobs in one pass (./batch.ts): the oldest queued job, then more queued jobs for the
// same model version while their sequences fit in MAX_BATCH. Each keeps its own lease, events, progress, reranking
// and completion, and its images are those it gets alone.
import { EventEmitter } from "node:events";
import type { Db } from "../db/client";
import { claimMoreJobs, claimNextJob, completeJob, failJob, renewLease, reportProgress, takeOverAbandoned } from "../db/generations";
import { serverEnv } from "../env";
import { publicMessage } from "../errors";
import { generateBatch, generateParamsOf, sequencesOfStored, type BatchOutcome } from "./batch";
import type { GenerateParams, GenerateProgress } from "./generate";
import { claimLiveId, workerIsDeadOnThisHost } from "./liveness";
import { persist } from "./persist";
import { pngDataUrl } from "./png";
import type { ModelLease, ModelRegistry } from "./registry";

export type JobEvent =
  | { type: "status"; status: string; progress: number }
  | { type: "progress"; done: number; total: number; partial?: string[] }
  | { type: "done" }
  | { type: "failed"; error: string };

export interface WorkerOptions {
  concurrency: number;
  /** Partial decodes every this many tokens (0: none). */
  partialEvery: number;
  /** Minimum ms between progress writes to the database. */
  progressWriteMs?: number;
  /** How long a claim holds without a heartbeat (default 30 s); another worker takes the job over after that. */
  leaseMs?: number;
  /** Heartbeat period (default a third of the lease, so two missed beats do not lose the job). */
  heartbeatMs?: number;
  /** First and longest pause between retries of a failed write (default 100 ms and 5 s). */
  retryMs?: [number, number];
  /** Longest one write attempt may take before it counts as failed (default 15 s). */
  writeAttemptMs?: number;
  /** Longest a write is retried before the job is left to its lease (default 60 s). */
  writeDeadlineMs?: number;
  /** Sequences (each job's candidates when its model reranks, else n) sampled in one pass across jobs (default MAX_BATCH). */
  maxBatch?: number;
  log?: Pick<Console, "info" | "error">;
  /**
   * Its id, claimed by whoever watches its liveness (a generation thread's, by the pool that releases it when the
   * thread exits); default a new one from ./liveness.ts, alive as long as this process.
   */
  id?: string;
}

class LeaseLost extends Error {}

type Row = NonNullable<Awaited<ReturnType<typeof claimNextJob>>>;
// `source`: an image-primed job's picture, which its worker encodes into the kept rows.
type JobRow = Pick<Row, "id" | "prompt" | "params" | "seed" | "source">;

/** A claimed job while its batch runs. */
interface Claimed {
  id: string;
  params: GenerateParams;
  /** performance.now() at its claim. */
  started: number;
  lastWrite: number;
  /** Its lease was found gone (taken over, deleted): it gets no more events and nothing of it is stored. */
  lost: boolean;
  /** Completed, failed or stopped: its lease is no longer renewed. */
  finished: boolean;
}

export class GenerationWorker {
  readonly events = new EventEmitter();
  readonly id: string;
  private running = 0;
  private stopped = false;
  private wake?: () => void;
  private loops: Promise<void>[] = [];
  private lastSweep = 0;
  /** The last database write that failed and has not been followed by a success, for the health report. */
  lastWriteError: string | null = null;
  /** Date.now() of its last sign of progress (a loop turn, a token, a database call that settled), for a watchdog. */
  lastProgressAt = Date.now();

  constructor(
    private readonly db: Db,
    private readonly registry: ModelRegistry,
    private readonly o: WorkerOptions,
  ) {
    this.events.setMaxListeners(0);
    this.id = o.id ?? claimLiveId().id;
  }

  private get leaseMs(): number {
    return this.o.leaseMs ?? 30_000;
  }

  get busy(): number {
    return this.running;
  }

  start(): void {
    this.stopped = false;
    this.loops = Array.from({ length: this.o.concurrency }, () => this.loop());
  }

  /** A job was queued: wake an idle loop. */
  notify(): void {
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.notify();
    await Promise.all(this.loops);
  }

  /** Re-queues (or fails) jobs whose worker is gone; also run at boot by the service. */
  async sweep(): Promise<{ requeued: number; failed: number }> {
    this.lastSweep = Date.now();
    return takeOverAbandoned(this.db, workerIsDeadOnThisHost);
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      this.alive();
      if (Date.now() - this.lastSweep > this.leaseMs / 2) {
        await this.sweep().then(
          (r) =>
            r.requeued + r.failed > 0 && this.o.log?.info(`[tessera] worker: took over ${r.requeued} abandoned job(s), failed ${r.failed}`),
          (err: unknown) => this.o.log?.error(`[tessera] worker: cannot sweep the queue: ${publicMessage(err)}`),
        );
      }
      const job = await claimNextJob(this.db, this.id, this.leaseMs).catch((err: unknown) => {
        this.o.log?.error(`[tessera] worker: cannot read the queue: ${publicMessage(err)}`);
        return null;
      });
      if (!job) {
        // Idle: sleep until notified, with a periodic look in case another process queued work.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(1000, this.leaseMs / 2));
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        continue;
      }
      await this.runBatch(job);
    }
  }

  /**
   * Retries a write until it succeeds, the worker stops or the deadline passes (./persist.ts); undefined when it gave
   * up. A job whose completion or failure is given up is left to its lease: no longer renewed, it lapses, and a sweep
   * re-queues the job (or fails it), so it still ends.
   */
  private async persist<T>(what: string, write: () => Promise<T>): Promise<T | undefined> {
    const outcome = await persist(write, {
      retryMs: this.o.retryMs ?? [100, 5000],
      attemptMs: this.o.writeAttemptMs ?? 15_000,
      deadlineMs: this.o.writeDeadlineMs ?? 60_000,
      stopped: () => this.stopped,
      onSettled: () => this.alive(),
      onError: (err, pause) => {
        this.lastWriteError = publicMessage(err);
        if (process.env.TESSERA_DEBUG_WRITES) console.error(err);
        const next = pause === null ? "giving up" : `retrying in ${Math.round(pause)} ms`;
        this.o.log?.error(`[tessera] worker: cannot ${what} (${next}): ${this.lastWriteError}`);
      },
    });
    if ("value" in outcome) {
      this.lastWriteError = null;
      return outcome.value;
    }
    if (outcome.gaveUp === "deadline") this.o.log?.error(`[tessera] worker: gave up trying to ${what}; its lease will lapse`);
    return undefined;
  }

  /** Marks progress for the watchdog: a loop turn, a token, a database call that settled. */
  private alive(): void {
    this.lastProgressAt = Date.now();
  }

  private track(row: JobRow): Claimed {
    this.running++;
    return { id: row.id, params: generateParamsOf(row), started: performance.now(), lastWrite: 0, lost: false, finished: false };
  }

  private renew(job: Claimed): void {
    renewLease(this.db, job.id, this.id, this.leaseMs).then(
      (held) => {
        this.lastWriteError = null;
        if (!held) job.lost = true;
      },
      (err: unknown) => {
        this.lastWriteError = publicMessage(err);
        this.o.log?.error(`[tessera] worker: cannot renew the lease of ${job.id}: ${this.lastWriteError}`);
      },
    );
  }

  /** Runs the claimed job `head` with as many more queued jobs for its model as fit in one batch. */
  private async runBatch(head: Row): Promise<void> {
    const jobs = [this.track(head)];
    // One heartbeat renews every claimed job's lease, each on its own: one lost lease stops only that job.
    const heartbeat = setInterval(() => jobs.forEach((j) => j.finished || this.renew(j)), this.o.heartbeatMs ?? this.leaseMs / 3);
    let lease: ModelLease | undefined;
    try {
      try {
        // The version the request chose; jobs queued without one (or whose version was deleted since) take the active one.
        lease = await this.registry.acquire(head.modelVersionId ?? undefined);
      } catch (err) {
        return await this.fail(jobs[0], err);
      }
      const loadedMs = performance.now() - jobs[0].started;
      for (const row of await this.claimMore(head, lease)) jobs.push(this.track(row));
      const outcomes = await generateBatch(
        lease.bundle,
        jobs.map((j) => ({ params: j.params, onProgress: (p: GenerateProgress) => this.progress(j, p) })),
        { partialEvery: this.o.partialEvery },
      );
      // Each job finishes on its own: a write that keeps failing for one does not hold up the others.
      const versionId = lease.versionId;
      await Promise.all(jobs.map((j, i) => this.finish(j, outcomes[i], versionId, i === 0 ? loadedMs : 0)));
    } catch (err) {
      await Promise.all(jobs.filter((j) => !j.finished).map((j) => this.fail(j, err)));
    } finally {
      clearInterval(heartbeat);
      lease?.release();
      this.running -= jobs.length;
    }
  }

  /** More queued jobs for the lease's model version, up to MAX_BATCH sequences with the head's; none on error. */
  private async claimMore(head: Row, lease: ModelLease): Promise<JobRow[]> {
    const reranks = lease.bundle.clip !== undefined;
    const sizeOf = (params: unknown) => sequencesOfStored(params, reranks);
    // A job of MAX_BATCH sequences or more (or with unreadable params) runs alone.
    const room = (this.o.maxBatch ?? serverEnv().MAX_BATCH) - sizeOf(head.params);
    if (!(room > 0)) return [];
    return claimMoreJobs(this.db, this.id, this.leaseMs, { versionId: lease.versionId, room, sizeOf }).catch((err: unknown) => {
      // Batching only saves time: the head job runs anyway, and the others wait for a later batch.
      this.o.log?.error(`[tessera] worker: cannot claim more jobs for the batch: ${publicMessage(err)}`);
      return [];
    });
  }

  private async progress(job: Claimed, p: GenerateProgress): Promise<void> {
    if (job.lost) throw new LeaseLost();
    this.alive();
    const partial = p.partial?.map((img) => pngDataUrl(img.png));
    this.events.emit(job.id, { type: "progress", done: p.done, total: p.total, partial } satisfies JobEvent);
    const now = performance.now();
    if (now - job.lastWrite > (this.o.progressWriteMs ?? 500)) {
      job.lastWrite = now;
      // Progress is a nicety: a failed write is not retried (the next one or the completion will land).
      await reportProgress(this.db, job.id, this.id, p.done / p.total).catch(() => {});
    }
  }

  private async finish(job: Claimed, outcome: BatchOutcome, versionId: string, loadMs: number): Promise<void> {
    if (!outcome.ok) {
      if (!(outcome.error instanceof LeaseLost)) return this.fail(job, outcome.error);
      job.finished = true;
      return this.o.log?.info(`[tessera] generation ${job.id} was deleted or taken over by another worker; stopped`);
    }
    const r = outcome.result;
    const timings = {
      loadMs: Math.round(loadMs),
      tokensMs: r.timingsMs.tokens,
      decodeMs: r.timingsMs.decode,
      ...(r.timingsMs.rerank !== undefined ? { rerankMs: r.timingsMs.rerank } : {}),
      // The pass it was sampled in: jobs, and their sequences together.
      batchJobs: r.batch.jobs,
      batchRows: r.batch.rows,
      totalMs: Math.round(performance.now() - job.started),
    };
    // What actually ran (versionId), recorded at completion.
    const output = { images: r.images, rejected: r.rejected, candidates: r.candidates };
    const stored = await this.persist(`store the images of ${job.id}`, () =>
      completeJob(this.db, job.id, this.id, output, timings, versionId),
    );
    job.finished = true;
    if (stored) {
      // One line per job stored, by the worker that stored it: with several servers, where each job ran.
      this.o.log?.info(`[tessera] generation ${job.id} done by ${this.id}: ${r.images.length} image(s) in ${timings.totalMs} ms`);
      return void this.events.emit(job.id, { type: "done" } satisfies JobEvent);
    }
    if (stored === false) this.o.log?.info(`[tessera] generation ${job.id} was deleted or taken over meanwhile; its result is dropped`);
  }

  private async fail(job: Claimed, err: unknown): Promise<void> {
    // Prisma's messages start with a blank line and run long: keep the last meaningful line.
    const message = publicMessage(err);
    this.o.log?.error(`[tessera] generation ${job.id} failed: ${message}`);
    const failed = await this.persist(`record the failure of ${job.id}`, () => failJob(this.db, job.id, this.id, message));
    job.finished = true;
    this.events.emit(
      job.id,
      failed === false
        ? { type: "failed", error: "deleted while it was being generated" }
        : ({ type: "failed", error: message } satisfies JobEvent),
    );
  }
}
