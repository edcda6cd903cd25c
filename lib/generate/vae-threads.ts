// Variations and blends off the event loop: VAE_THREADS worker threads (./vae-thread.ts), each with its own tfjs
// backend and cached VAE, run the tensor work (PNG decode, encode, sample, decode, PNG encode) while the web thread
// only reads the pictures from the database and routes. A pool of their own rather than the generation threads: a
// request answers in tens of ms and must not wait behind a generation batch of seconds.
//
// The same limits as the generation queue: a client may have QUEUE_LIMIT_PER_CLIENT requests waiting or running,
// all clients together QUEUE_LIMIT; beyond either the request is refused at once with 429 and a Retry-After
// estimated from how long recent requests took. Waiting requests start round-robin across clients, as jobs do
// (../db/job-claims.ts). A thread that dies fails its request with 503 and is restarted.
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { HttpError } from "../api";

export type VaeTask =
  | { kind: "variations"; dir: string; png: Uint8Array; k: number; scale: number; seed: number }
  | { kind: "blend"; dir: string; a: Uint8Array; b: Uint8Array; steps: number };

/** What a thread answers: the images, the model's ms, and where it ran (the tests hold the work off the main thread). */
export interface VaeThreadResult {
  images: string[];
  ms: number;
  /** worker_threads.threadId where the tensor work ran (0: the main thread). */
  threadId: number;
  /** tf.memory().numTensors of that thread after the request (its cached VAE's weights; a leak shows as growth). */
  tensors: number;
}

export type ToVaeThread = { id: number; task: VaeTask };
export type FromVaeThread = { id: number; result?: VaeThreadResult; error?: { status: number; message: string } };

export interface VaePoolOptions {
  threads: number;
  /** Requests waiting or running, all clients together, beyond which one is refused. */
  limit: number;
  /** Requests waiting or running of one client beyond which its next is refused. */
  perClientLimit: number;
  /** The project root, holding lib/generate/ (default process.cwd()). */
  root?: string;
  log?: Pick<Console, "error">;
}

interface Pending {
  clientId: string;
  task: VaeTask;
  resolve: (r: VaeThreadResult) => void;
  reject: (err: unknown) => void;
}

interface Slot {
  worker: Worker | null;
  running: (Pending & { id: number; started: number }) | null;
}

/** ms a request took before any has finished: about a k = 8 variations request on one core. */
const FIRST_GUESS_MS = 100;

export class VaeThreads {
  private readonly slots: Slot[];
  /** Waiting requests by client, in the order the clients arrived. */
  private readonly waiting = new Map<string, Pending[]>();
  /** When each client with something pending was last served (a dispatch count); the least recent goes first. */
  private readonly served = new Map<string, number>();
  /** Waiting + running requests per client. */
  private readonly pending = new Map<string, number>();
  private total = 0;
  private next = 0;
  private recentMs: number[] = [];
  private stopped = false;
  private readonly dir: string;

  constructor(private readonly o: VaePoolOptions) {
    if (!Number.isInteger(o.threads) || o.threads < 1) throw new Error(`a VAE thread pool has at least 1 thread, not ${o.threads}`);
    this.dir = path.join(/*turbopackIgnore: true*/ o.root ?? process.cwd(), "lib", "generate");
    this.slots = Array.from({ length: o.threads }, () => ({ worker: null, running: null }));
  }

  /** Runs `task` on a thread; refused at once (429 + Retry-After) beyond the limits. */
  run(task: VaeTask, clientId: string): Promise<VaeThreadResult> {
    const mine = this.pending.get(clientId) ?? 0;
    if (mine >= this.o.perClientLimit || this.total >= this.o.limit) {
      const ahead = mine >= this.o.perClientLimit ? 1 : this.total - this.o.limit + 1;
      const retryAfterS = Math.max(1, Math.ceil((this.meanMs() * ahead) / this.slots.length / 1000));
      const message =
        mine >= this.o.perClientLimit
          ? `you already have ${mine} variations or blends waiting (the per-client limit QUEUE_LIMIT_PER_CLIENT); try again in about ${retryAfterS} s`
          : `the server is busy with ${this.total} variations and blends (the limit QUEUE_LIMIT); try again in about ${retryAfterS} s`;
      return Promise.reject(new HttpError(429, message, { "Retry-After": String(retryAfterS) }));
    }
    if (this.stopped) return Promise.reject(new HttpError(503, "the server is stopping"));
    return new Promise((resolve, reject) => {
      this.pending.set(clientId, mine + 1);
      this.total++;
      const queue = this.waiting.get(clientId) ?? [];
      queue.push({ clientId, task, resolve, reject });
      this.waiting.set(clientId, queue);
      this.dispatch();
    });
  }

  /** Terminates the threads; requests waiting or running are refused with 503. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const queue of this.waiting.values()) for (const p of queue) this.settle(p, new HttpError(503, "the server is stopping"));
    this.waiting.clear();
    await Promise.all(this.slots.map((s) => s.worker?.terminate()));
  }

  private meanMs(): number {
    return this.recentMs.length ? this.recentMs.reduce((a, b) => a + b, 0) / this.recentMs.length : FIRST_GUESS_MS;
  }

  /**
   * Gives each idle thread the oldest request of the client whose turn it is: the fewest requests running now, then
   * the longest since it was last served (never, for a newcomer), then arrival.
   */
  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.running || this.stopped) continue;
      let turn: { clientId: string; key: [number, number] } | null = null;
      for (const clientId of this.waiting.keys()) {
        const running = this.slots.filter((s) => s.running?.clientId === clientId).length;
        const key: [number, number] = [running, this.served.get(clientId) ?? 0];
        if (!turn || key[0] < turn.key[0] || (key[0] === turn.key[0] && key[1] < turn.key[1])) turn = { clientId, key };
      }
      if (!turn) return;
      const queue = this.waiting.get(turn.clientId)!;
      const p = queue.shift()!;
      if (!queue.length) this.waiting.delete(turn.clientId);
      this.served.set(turn.clientId, ++this.next);
      const worker = slot.worker ?? this.spawn(slot);
      slot.running = { ...p, id: this.next, started: performance.now() };
      worker.postMessage({ id: slot.running.id, task: p.task } satisfies ToVaeThread);
    }
  }

  private settle(p: Pending, outcome: VaeThreadResult | Error): void {
    const left = (this.pending.get(p.clientId) ?? 1) - 1;
    if (left > 0) this.pending.set(p.clientId, left);
    else {
      this.pending.delete(p.clientId);
      this.served.delete(p.clientId);
    }
    this.total--;
    if (outcome instanceof Error) p.reject(outcome);
    else p.resolve(outcome);
  }

  private spawn(slot: Slot): Worker {
    const worker = new Worker(path.join(/*turbopackIgnore: true*/ this.dir, "generation-thread-boot.mjs"), {
      workerData: { entry: pathToFileURL(path.join(/*turbopackIgnore: true*/ this.dir, "vae-thread.ts")).href },
      // The boot module registers its own TypeScript loader; the parent's flags (tsx's, vitest's) do not carry over.
      execArgv: [],
    });
    // An idle pool must not keep a process (a script, a test) alive.
    worker.unref();
    slot.worker = worker;
    worker.on("message", (m: FromVaeThread) => {
      const r = slot.running;
      if (!r || r.id !== m.id) return;
      slot.running = null;
      this.recentMs = [...this.recentMs.slice(-19), performance.now() - r.started];
      this.settle(r, m.result ?? new HttpError(m.error?.status ?? 500, m.error?.message ?? "the VAE thread failed"));
      this.dispatch();
    });
    worker.on("error", (err) => this.o.log?.error(`[tessera] VAE thread crashed: ${err.stack ?? err.message}`));
    worker.once("exit", (code) => {
      if (slot.worker === worker) slot.worker = null;
      const r = slot.running;
      slot.running = null;
      if (r) this.settle(r, new HttpError(503, `the VAE thread stopped (code ${code}); try again`));
      // The next request starts a fresh thread.
      if (!this.stopped) this.dispatch();
    });
    return worker;
  }
}

// On globalThis: Next bundles each route separately, and both routes share one pool.
const state = globalThis as unknown as { tesseraVaeThreads?: VaeThreads };

/** This process's pool, started on first use with VAE_THREADS threads and the queue's limits. */
export function vaeThreads(env: { VAE_THREADS: number; QUEUE_LIMIT: number; QUEUE_LIMIT_PER_CLIENT: number }): VaeThreads {
  return (state.tesseraVaeThreads ??= new VaeThreads({
    threads: env.VAE_THREADS,
    limit: env.QUEUE_LIMIT,
    perClientLimit: env.QUEUE_LIMIT_PER_CLIENT,
    log: console,
  }));
}

/** Stops this process's pool (tests); the next request starts a new one. */
export async function stopVaeThreads(): Promise<void> {
  const pool = state.tesseraVaeThreads;
  state.tesseraVaeThreads = undefined;
  await pool?.stop();
}
