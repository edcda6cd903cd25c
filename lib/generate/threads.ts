// Generation off the event loop: WORKER_THREADS worker threads (./generation-thread.ts), each with its own tfjs
// backend, database client, model registry and GenerationWorker, so that sampling, decoding and reranking never
// hold up HTTP or /api/health. The threads share the queue in the database under leases as separate processes
// would; the main thread keeps what the routes use: an emitter fed with every thread's JobEvents, notify() to wake
// them, and their state (busy jobs, failed writes, loaded model) for the health report.
//
// Liveness is process-wide (./liveness.ts): the pool claims each thread's worker id in the shared table before the
// thread starts and releases it when the thread exits, so a sibling's sweep never takes a live thread's jobs and
// takes a dead one's at once. A thread that exits unexpectedly is restarted, after a pause that doubles while it
// keeps dying.
import { EventEmitter } from "node:events";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { claimLiveId, liveTable, type LiveId } from "./liveness";
import type { LoadError } from "./registry";
import type { JobEvent } from "./worker";

/** What the routes use of whoever runs the jobs: the in-process GenerationWorker or this pool. */
export interface JobRunner {
  /** Says who runs the jobs, for logs. */
  readonly id: string;
  /** JobEvents, keyed by job id. */
  readonly events: EventEmitter;
  /** Jobs running now. */
  readonly busy: number;
  /** The last database write that failed and has not been followed by a success. */
  readonly lastWriteError: string | null;
  /** Starts taking jobs (again, after stop()). */
  start(): void;
  /** A job was queued. */
  notify(): void;
  /** Re-queues (or fails) jobs whose worker is gone. */
  sweep(): Promise<Swept>;
  /** Stops taking jobs, lets the batches in flight finish and be stored, and resolves once nothing runs. */
  stop(): Promise<void>;
}

export interface Swept {
  requeued: number;
  failed: number;
}

/** What a thread reports for the health report. */
export interface ThreadState {
  busy: number;
  lastWriteError: string | null;
  /** Its registry's active version when loaded. */
  loadedName: string | null;
  loadError: LoadError | null;
  /** Date.now() of its worker's last sign of progress (GenerationWorker.lastProgressAt). */
  lastProgressAt: number;
}

/** workerData of a generation thread. */
export interface ThreadData {
  index: number;
  /** The file URL of generation-thread.ts, imported by the boot module once tsx is registered. */
  entry: string;
  /** Claimed by the pool in `live`, released by the pool when the thread exits. */
  workerId: string;
  /** The process's liveness table (shared memory). */
  live: Int32Array;
}

export type ToThread = { type: "notify" } | { type: "sweep"; req: number } | { type: "stop" };
export type ToMain =
  | { type: "ready"; state: ThreadState }
  | { type: "state"; state: ThreadState }
  | { type: "event"; id: string; event: JobEvent }
  | { type: "swept"; req: number; result?: Swept; error?: string };

export interface ThreadPoolOptions {
  threads: number;
  /** Pause before restarting a thread that exited unexpectedly, first and longest (default 1 s and 60 s). */
  restartMs?: [number, number];
  /**
   * A booted thread whose worker shows no progress (no loop turn, token or settled database call) for this long is
   * stuck — a call that never returns, or a blocked event loop — and is terminated and restarted (default 120 s).
   */
  watchdogMs?: number;
  /** The project root, holding lib/generate/ (default process.cwd()). */
  root?: string;
  log?: Pick<Console, "info" | "error">;
}

interface Slot {
  index: number;
  worker: Worker | null;
  live: LiveId | null;
  /** Null until the thread has booted. */
  state: ThreadState | null;
  startedAt: number;
  /** Exits in a row that came soon after a start: the restart pause doubles with each. */
  failures: number;
  restart: NodeJS.Timeout | null;
  /** Resolves once the current (or next, while restarting) thread has booted. */
  ready: Promise<void>;
  markReady: () => void;
  booted: boolean;
  /** Resolves once the current thread has exited. */
  exited: Promise<void>;
  /** Jobs of ./worker.ts it finished ("done" events), since the pool started. */
  finished: number;
  sweeps: Map<number, (r: Swept) => void>;
  /** Why the watchdog terminated this thread, until its successor has booted. */
  stalled: string | null;
}

export class GenerationThreads implements JobRunner {
  readonly events = new EventEmitter();
  readonly id: string;
  private readonly slots: Slot[];
  private readonly dir: string;
  private stopping = false;
  private req = 0;
  private watchdog: NodeJS.Timeout | undefined;

  constructor(private readonly o: ThreadPoolOptions) {
    if (!Number.isInteger(o.threads) || o.threads < 1) throw new Error(`a generation thread pool has at least 1 thread, not ${o.threads}`);
    this.events.setMaxListeners(0);
    this.id = `${os.hostname()}:${process.pid} (${o.threads} generation thread${o.threads === 1 ? "" : "s"})`;
    // By absolute path on disk, not through the bundler: under `npm start` this module is part of Next's server
    // bundle, and the thread runs the TypeScript sources through tsx.
    this.dir = path.join(/*turbopackIgnore: true*/ o.root ?? process.cwd(), "lib", "generate");
    this.slots = Array.from({ length: o.threads }, (_, index) => {
      const slot = {
        index,
        worker: null,
        live: null,
        state: null,
        startedAt: 0,
        failures: 0,
        restart: null,
        finished: 0,
        booted: false,
        stalled: null,
      };
      return Object.assign(slot, { sweeps: new Map(), exited: Promise.resolve(), ...readiness() });
    });
  }

  get threads(): number {
    return this.slots.length;
  }

  get busy(): number {
    return this.slots.reduce((n, s) => n + (s.state?.busy ?? 0), 0);
  }

  get lastWriteError(): string | null {
    return this.slots.find((s) => s.state?.lastWriteError)?.state?.lastWriteError ?? null;
  }

  /** Threads the watchdog found stuck and is restarting, with why. */
  get stalled(): string[] {
    return this.slots.flatMap((s) => (s.stalled ? [s.stalled] : []));
  }

  /** The active version's name as each running thread last loaded it (a thread that has not, is absent). */
  get loadedNames(): string[] {
    return this.slots.flatMap((s) => (s.state?.loadedName ? [s.state.loadedName] : []));
  }

  get loadErrors(): LoadError[] {
    return this.slots.flatMap((s) => (s.state?.loadError ? [s.state.loadError] : []));
  }

  /** Jobs each thread finished since the pool started, by thread. */
  get finished(): number[] {
    return this.slots.map((s) => s.finished);
  }

  /** The threads running now with their worker ids (a thread being restarted is absent). */
  running(): { index: number; workerId: string; worker: Worker }[] {
    return this.slots.flatMap((s) => (s.worker && s.live ? [{ index: s.index, workerId: s.live.id, worker: s.worker }] : []));
  }

  /** Resolves once every thread has booted (a thread being restarted: once it is back). */
  ready(): Promise<void> {
    return Promise.all(this.slots.map((s) => s.ready)).then(() => {});
  }

  /** Starts the threads (again, after stop() has resolved). */
  start(): void {
    this.stopping = false;
    for (const slot of this.slots) if (!slot.worker && !slot.restart) this.spawn(slot);
    const limit = this.o.watchdogMs ?? 120_000;
    clearInterval(this.watchdog);
    this.watchdog = setInterval(() => this.watch(limit), Math.min(5000, limit / 4));
    this.watchdog.unref();
  }

  /** Terminates each booted thread that has shown no progress for `limit` ms; onExit restarts it and sweeps its jobs. */
  private watch(limit: number): void {
    for (const slot of this.slots) {
      if (!slot.worker || !slot.booted || !slot.state || slot.stalled) continue;
      const idle = Date.now() - slot.state.lastProgressAt;
      if (idle <= limit) continue;
      slot.stalled = `generation thread ${slot.index} made no progress for ${Math.round(idle / 1000)} s; restarting it`;
      this.o.log?.error(`[tessera] ${slot.stalled}`);
      void slot.worker.terminate();
    }
  }

  notify(): void {
    this.post({ type: "notify" });
  }

  /** Every running thread sweeps; the counts are summed. */
  async sweep(): Promise<Swept> {
    const results = await Promise.all(
      this.slots.map((s) => {
        if (!s.worker) return { requeued: 0, failed: 0 };
        const req = ++this.req;
        return new Promise<Swept>((resolve) => {
          s.sweeps.set(req, resolve);
          s.worker!.postMessage({ type: "sweep", req } satisfies ToThread);
        });
      }),
    );
    return results.reduce((a, r) => ({ requeued: a.requeued + r.requeued, failed: a.failed + r.failed }), { requeued: 0, failed: 0 });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.watchdog);
    for (const s of this.slots) {
      if (s.restart) clearTimeout(s.restart);
      s.restart = null;
    }
    this.post({ type: "stop" });
    await Promise.all(this.slots.map((s) => s.exited));
  }

  private post(m: ToThread): void {
    for (const s of this.slots) s.worker?.postMessage(m);
  }

  private spawn(slot: Slot): void {
    slot.restart = null;
    if (this.stopping) return;
    const live = claimLiveId();
    const data: ThreadData = {
      index: slot.index,
      entry: pathToFileURL(path.join(/*turbopackIgnore: true*/ this.dir, "generation-thread.ts")).href,
      workerId: live.id,
      live: liveTable(),
    };
    const worker = new Worker(path.join(/*turbopackIgnore: true*/ this.dir, "generation-thread-boot.mjs"), {
      workerData: data,
      // The thread registers its own TypeScript loader; the parent's flags (tsx's, vitest's) do not carry over.
      execArgv: [],
    });
    Object.assign(slot, { worker, live, state: null, startedAt: Date.now() });
    slot.exited = new Promise((resolve) => worker.once("exit", (code) => (this.onExit(slot, code), resolve())));
    worker.on("message", (m: ToMain) => this.receive(slot, m));
    worker.on("error", (err) => this.o.log?.error(`[tessera] generation thread ${slot.index} crashed: ${err.stack ?? err.message}`));
  }

  private receive(slot: Slot, m: ToMain): void {
    if (m.type === "event") {
      if (m.event.type === "done") slot.finished++;
      this.events.emit(m.id, m.event);
    } else if (m.type === "state" || m.type === "ready") {
      slot.state = m.state;
      if (m.type === "ready") {
        slot.booted = true;
        slot.stalled = null;
        slot.markReady();
      }
    } else if (m.type === "swept") {
      const resolve = slot.sweeps.get(m.req);
      slot.sweeps.delete(m.req);
      if (m.error) this.o.log?.error(`[tessera] generation thread ${slot.index}: cannot sweep the queue: ${m.error}`);
      resolve?.(m.result ?? { requeued: 0, failed: 0 });
    }
  }

  private onExit(slot: Slot, code: number): void {
    // First of all: the thread's jobs are now a dead worker's, for every sibling's next sweep.
    slot.live?.release();
    Object.assign(slot, { worker: null, live: null, state: null });
    for (const resolve of slot.sweeps.values()) resolve({ requeued: 0, failed: 0 });
    slot.sweeps.clear();
    // Who waits for a thread that never booted waits for its restart; once booted, ready() means the next one.
    if (slot.booted) Object.assign(slot, readiness(), { booted: false });
    if (this.stopping) return;
    const [first, longest] = this.o.restartMs ?? [1000, 60_000];
    // A thread that ran for a while before it died starts the back-off over.
    slot.failures = Date.now() - slot.startedAt > longest ? 1 : slot.failures + 1;
    const pause = Math.min(longest, first * 2 ** (slot.failures - 1));
    this.o.log?.error(`[tessera] generation thread ${slot.index} exited (code ${code}); restarting it in ${pause} ms`);
    slot.restart = setTimeout(() => this.spawn(slot), pause);
    // Its jobs go to the threads still running now rather than at their next periodic sweep.
    void this.sweep().then(
      (r) =>
        r.requeued + r.failed > 0 &&
        this.o.log?.info(`[tessera] took over ${r.requeued} job(s) of generation thread ${slot.index}, failed ${r.failed}`),
    );
  }
}

function readiness(): { ready: Promise<void>; markReady: () => void } {
  let markReady = () => {};
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  return { ready, markReady };
}
