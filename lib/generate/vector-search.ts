// The web thread's handle on the vector index: one worker thread per database (./vector-index-thread.ts) that
// builds the index from it, keeps it current and answers searches, so a search costs the web thread a message.
// Started on the first search and restarted on the next search if it dies; it keeps the process alive only while a
// request waits on it (a script's last await must not end the process; an idle index must not keep it running).
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { dbTarget, type Db } from "../db/client";
import type { Neighbour } from "../db/semantic-search";
import type { KeeperOptions, KeeperState } from "./index-keeper";

export type ToIndexThread =
  | { type: "search"; req: number; versionId: string; query: Float32Array; topK: number; exclude?: string }
  | { type: "like"; req: number; generationId: string; topK: number }
  | { type: "state"; req: number }
  | { type: "catchUp"; req: number }
  | { type: "stop" };
export type FromIndexThread = { type: "answer"; req: number; results?: Neighbour[]; state?: KeeperState; error?: string };

type Answer = Omit<FromIndexThread, "type" | "req">;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export class VectorSearch {
  private worker: Worker | null = null;
  private nextReq = 0;
  private readonly pending = new Map<number, { resolve: (a: Answer) => void; reject: (e: Error) => void }>();

  constructor(
    readonly databaseUrl: string,
    private readonly options: KeeperOptions & { root?: string } = {},
  ) {}

  private thread(): Worker {
    if (this.worker) return this.worker;
    const { root, ...options } = this.options;
    const dir = path.join(/*turbopackIgnore: true*/ root ?? process.cwd(), "lib", "generate");
    const worker = new Worker(path.join(/*turbopackIgnore: true*/ dir, "generation-thread-boot.mjs"), {
      workerData: {
        entry: pathToFileURL(path.join(/*turbopackIgnore: true*/ dir, "vector-index-thread.ts")).href,
        databaseUrl: this.databaseUrl,
        options,
      },
    });
    worker.unref();
    worker.on("message", (m: FromIndexThread) => {
      const p = this.pending.get(m.req);
      if (!p) return;
      this.pending.delete(m.req);
      if (!this.pending.size) worker.unref();
      if (m.error !== undefined) p.reject(new Error(`vector index: ${m.error}`));
      else p.resolve(m);
    });
    const fail = (err: Error) => {
      if (this.worker === worker) this.worker = null;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`vector index thread exited (${code})`)));
    return (this.worker = worker);
  }

  private ask(m: DistributiveOmit<Exclude<ToIndexThread, { type: "stop" }>, "req">): Promise<Answer> {
    const req = this.nextReq++;
    const worker = this.thread();
    return new Promise<Answer>((resolve, reject) => {
      this.pending.set(req, { resolve, reject });
      worker.ref();
      worker.postMessage({ ...m, req } as ToIndexThread);
    });
  }

  /** Generations of `versionId` nearest to `query`, as lib/db/semantic-search.ts nearestGenerations ranks them. */
  async search(versionId: string, query: Float32Array, topK: number, exclude?: string): Promise<Neighbour[]> {
    return (await this.ask({ type: "search", versionId, query, topK, exclude })).results ?? [];
  }

  /** Other generations of the same version most like this one's best image; the thread reads its embedding too. */
  async moreLikeThis(generationId: string, topK: number): Promise<Neighbour[]> {
    return (await this.ask({ type: "like", generationId, topK })).results ?? [];
  }

  /** The index's size and build time, once the first build is done. */
  async state(): Promise<KeeperState> {
    return (await this.ask({ type: "state" })).state!;
  }

  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.worker = null;
    worker.ref(); // until it has exited
    const exited = new Promise((r) => worker.once("exit", r));
    worker.postMessage({ type: "stop" } satisfies ToIndexThread);
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
    await worker.terminate();
  }
}

const cache = globalThis as unknown as { tesseraVectorSearch?: Map<string, VectorSearch> };

/** The process's vector index for the database `db` talks to (one thread per database, shared by every caller). */
export function vectorSearchFor(db: Db): VectorSearch {
  const url = dbTarget(db).url;
  const all = (cache.tesseraVectorSearch ??= new Map());
  let vs = all.get(url);
  if (!vs) all.set(url, (vs = new VectorSearch(url)));
  return vs;
}
