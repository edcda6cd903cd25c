// The in-process worker: takes queued jobs from the database under a lease, generates with the job's model version
// (chosen at enqueue; the active one for a job that names none), reranking candidates with its CLIP when it has
// one, stores the kept images — and the rejected candidates, flagged — with their scores at the job's completion,
// and publishes progress (with partial pictures) to subscribers such as an SSE route. A job is never left running
// without a live worker: the lease is renewed by heartbeat while the job runs, writes that fail (database locked,
// read-only or unreachable) are retried until the database is back, and every worker's idle loop takes over jobs
// whose lease has expired (their worker died).
import { EventEmitter } from "node:events";
import os from "node:os";
import { randomBytes } from "node:crypto";
import type { Db } from "../db/client";
import { claimNextJob, completeJob, failJob, renewLease, reportProgress, takeOverAbandoned } from "../db/generations";
import { publicMessage } from "../errors";
import { generateImages } from "./generate";
import type { GenerationParams } from "./params";
import type { ModelRegistry } from "./registry";

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
  log?: Pick<Console, "info" | "error">;
}

/** `host:pid:random` — lets the next server on the same host tell at once that a job's worker process is gone. */
export function newWorkerId(): string {
  return `${os.hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
}

/** Ids of the workers alive in this process. */
const liveHere = new Set<string>();

/**
 * True for a worker id of this host whose process no longer runs. An id with this process's pid that no live
 * worker here holds is dead too: a restarted server can get its predecessor's pid (pid 1 in a container).
 */
export function workerIsDeadOnThisHost(workerId: string): boolean {
  const [host, pid] = workerId.split(":");
  if (host !== os.hostname() || !/^\d+$/.test(pid ?? "")) return false;
  if (Number(pid) === process.pid) return !liveHere.has(workerId);
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
}

class LeaseLost extends Error {}

export class GenerationWorker {
  readonly events = new EventEmitter();
  readonly id = newWorkerId();
  private running = 0;
  private stopped = false;
  private wake?: () => void;
  private loops: Promise<void>[] = [];
  private lastSweep = 0;
  /** The last database write that failed and has not been followed by a success, for the health report. */
  lastWriteError: string | null = null;

  constructor(
    private readonly db: Db,
    private readonly registry: ModelRegistry,
    private readonly o: WorkerOptions,
  ) {
    this.events.setMaxListeners(0);
    liveHere.add(this.id);
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
      this.running++;
      try {
        const params = job.params as unknown as Omit<GenerationParams, "prompt">;
        await this.run(job.id, job.prompt, params, job.seed, job.modelVersionId);
      } finally {
        this.running--;
      }
    }
  }

  /** Retries a write until it succeeds or the worker stops (then the lease expires and the job is taken over). */
  private async persist<T>(what: string, write: () => Promise<T>): Promise<T | undefined> {
    const [first, longest] = this.o.retryMs ?? [100, 5000];
    for (let pause = first; ; pause = Math.min(longest, pause * 2)) {
      try {
        const result = await write();
        this.lastWriteError = null;
        return result;
      } catch (err) {
        this.lastWriteError = publicMessage(err);
        if (process.env.TESSERA_DEBUG_WRITES) console.error(err);
        this.o.log?.error(`[tessera] worker: cannot ${what} (retrying in ${pause} ms): ${this.lastWriteError}`);
        if (this.stopped) return undefined;
        await new Promise((r) => setTimeout(r, pause));
      }
    }
  }

  private async run(
    id: string,
    prompt: string,
    params: Omit<GenerationParams, "prompt">,
    seed: number,
    modelVersionId: string | null,
  ): Promise<void> {
    const started = performance.now();
    let lastWrite = 0;
    let lost = false;
    const heartbeat = setInterval(
      () => {
        renewLease(this.db, id, this.id, this.leaseMs).then(
          (held) => {
            this.lastWriteError = null;
            if (!held) lost = true;
          },
          (err: unknown) => {
            this.lastWriteError = publicMessage(err);
            this.o.log?.error(`[tessera] worker: cannot renew the lease of ${id}: ${this.lastWriteError}`);
          },
        );
      },
      this.o.heartbeatMs ?? this.leaseMs / 3,
    );
    let lease;
    try {
      // The version the request chose; jobs queued without one (or whose version was deleted since) take the active one.
      lease = await this.registry.acquire(modelVersionId ?? undefined);
      const loadedMs = performance.now() - started;
      const result = await generateImages(
        lease.bundle,
        {
          prompt,
          n: params.n,
          guidance: params.guidance,
          temperature: params.temperature,
          topK: params.topK || undefined,
          seed,
          // Jobs queued before reranking existed have none: n candidates, i.e. scored but not reranked.
          candidates: params.candidates,
        },
        {
          partialEvery: this.o.partialEvery,
          onProgress: async (p) => {
            if (lost) throw new LeaseLost();
            const partial = p.partial?.map((img) => `data:image/png;base64,${img.png.toString("base64")}`);
            this.events.emit(id, { type: "progress", done: p.done, total: p.total, partial } satisfies JobEvent);
            const now = performance.now();
            if (now - lastWrite > (this.o.progressWriteMs ?? 500)) {
              lastWrite = now;
              // Progress is a nicety: a failed write is not retried (the next one or the completion will land).
              await reportProgress(this.db, id, this.id, p.done / p.total).catch(() => {});
            }
          },
        },
      );
      const timings = {
        loadMs: Math.round(loadedMs),
        tokensMs: result.timingsMs.tokens,
        decodeMs: result.timingsMs.decode,
        ...(result.timingsMs.rerank !== undefined ? { rerankMs: result.timingsMs.rerank } : {}),
        totalMs: Math.round(performance.now() - started),
      };
      // What actually ran, recorded at completion.
      const versionId = lease.versionId;
      const stored = await this.persist(`store the images of ${id}`, () =>
        completeJob(
          this.db,
          id,
          this.id,
          { images: result.images, rejected: result.rejected, candidates: result.candidates },
          timings,
          versionId,
        ),
      );
      if (stored) this.events.emit(id, { type: "done" } satisfies JobEvent);
      else if (stored === false) this.o.log?.info(`[tessera] generation ${id} was deleted or taken over meanwhile; its result is dropped`);
    } catch (err) {
      if (err instanceof LeaseLost) {
        this.o.log?.info(`[tessera] generation ${id} was deleted or taken over by another worker; stopped`);
        return;
      }
      // Prisma's messages start with a blank line and run long: keep the last meaningful line.
      const message = publicMessage(err);
      this.o.log?.error(`[tessera] generation ${id} failed: ${message}`);
      const failed = await this.persist(`record the failure of ${id}`, () => failJob(this.db, id, this.id, message));
      this.events.emit(
        id,
        failed === false
          ? { type: "failed", error: "deleted while it was being generated" }
          : ({ type: "failed", error: message } satisfies JobEvent),
      );
    } finally {
      clearInterval(heartbeat);
      lease?.release();
    }
  }
}
