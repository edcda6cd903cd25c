// The in-process worker: takes queued jobs from the database, generates with the active model, stores the images
// with the job's completion, and publishes progress (with partial pictures) to subscribers such as an SSE route.
import { EventEmitter } from "node:events";
import type { Db } from "../db/client";
import { generateImages } from "./generate";
import { claimNext, complete, fail, reportProgress, type GenerationParams } from "./queue";
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
  log?: Pick<Console, "info" | "error">;
}

export class GenerationWorker {
  readonly events = new EventEmitter();
  private running = 0;
  private stopped = false;
  private wake?: () => void;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly db: Db,
    private readonly registry: ModelRegistry,
    private readonly o: WorkerOptions,
  ) {
    this.events.setMaxListeners(0);
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

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const job = await claimNext(this.db).catch((err: unknown) => {
        this.o.log?.error(`[tessera] worker: cannot read the queue: ${(err as Error).message}`);
        return null;
      });
      if (!job) {
        // Idle: sleep until notified, with a periodic look in case another process queued work.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 1000);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        continue;
      }
      this.running++;
      try {
        await this.run(job.id, job.prompt, job.params as unknown as Omit<GenerationParams, "prompt">, job.seed);
      } finally {
        this.running--;
      }
    }
  }

  private async run(id: string, prompt: string, params: Omit<GenerationParams, "prompt">, seed: number): Promise<void> {
    const started = performance.now();
    let lastWrite = 0;
    let lease;
    try {
      lease = await this.registry.acquire();
      const loadedMs = performance.now() - started;
      const result = await generateImages(lease.bundle, { prompt, n: params.n, guidance: params.guidance, temperature: params.temperature, topK: params.topK || undefined, seed }, {
        partialEvery: this.o.partialEvery,
        onProgress: async (p) => {
          const partial = p.partial?.map((img) => `data:image/png;base64,${img.png.toString("base64")}`);
          this.events.emit(id, { type: "progress", done: p.done, total: p.total, partial } satisfies JobEvent);
          const now = performance.now();
          if (now - lastWrite > (this.o.progressWriteMs ?? 500)) {
            lastWrite = now;
            await reportProgress(this.db, id, p.done / p.total);
          }
        },
      });
      await complete(this.db, id, result.images, { loadMs: Math.round(loadedMs), tokensMs: result.timingsMs.tokens, decodeMs: result.timingsMs.decode, totalMs: Math.round(performance.now() - started) }, lease.versionId);
      this.events.emit(id, { type: "done" } satisfies JobEvent);
    } catch (err) {
      const gone = !(await this.db.generation.findUnique({ where: { id }, select: { id: true } }).catch(() => null));
      // Prisma's messages start with a blank line and run long: keep the first meaningful line.
      const message = gone ? "deleted while it was being generated" : (err as Error).message.trim().split("\n").filter(Boolean).at(-1) ?? "generation failed";
      this.o.log?.error(`[tessera] generation ${id} failed: ${message}`);
      await fail(this.db, id, message).catch(() => {});
      this.events.emit(id, { type: "failed", error: message } satisfies JobEvent);
    } finally {
      lease?.release();
    }
  }
}
