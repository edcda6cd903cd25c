// The generation thread pool against a real SQLite database and a real (tiny) model folder: jobs run in the
// threads and their events reach the main thread in order; two threads share the queue and run each job once; no
// thread's sweep takes a live sibling's job, while a thread that died has its jobs taken over; stop() ends them all.
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeScratchDb, openScratchDb, type ScratchDb } from "../../test/fixtures/scratch-db";
import { writeTinyModelFolder } from "../../test/fixtures/tiny-model";
import type { Db } from "../db/client";
import { REQUEUED_NOTE } from "../db/generations";
import { selectBackend } from "../tensor/backend";
import { GenerationParams, SAMPLING_FALLBACK, withSamplingDefaults } from "./params";
import { enqueue } from "./queue";
import { ensureDefaultVersion } from "./registry";
import { GenerationThreads } from "./threads";
import type { JobEvent } from "./worker";

let scratch: ScratchDb | undefined;
let dir: string;
let file: string;
let db: Db;
let pool: GenerationThreads;
const logged: string[] = [];
const log = { info: (m: string) => logged.push(m), error: (m: string) => logged.push(m) };
const saved = { ...process.env };

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  scratch = await openScratchDb("threads");
  db = scratch.db;
  [dir, file] = [scratch.dir!, scratch.file!];
  await writeTinyModelFolder(path.join(dir, "m1"));
  await ensureDefaultVersion(db, path.join(dir, "m1"));
  // What the threads read from their copy of the environment: this database; one job per batch, so that each
  // thread holds one job at a time and two jobs need two threads.
  Object.assign(process.env, {
    DATABASE_URL: scratch.url,
    MAX_BATCH: "1",
    PARTIAL_EVERY: "16",
    TESSERA_BACKEND: "wasm",
    WORKER_CONCURRENCY: "1",
  });
  pool = new GenerationThreads({ threads: 2, restartMs: [50, 200], log });
  pool.start();
  await pool.ready();
}, 180_000);

afterAll(async () => {
  await pool?.stop();
  await closeScratchDb(scratch);
  process.env = saved;
});

const req = (body: object) => withSamplingDefaults(GenerationParams.parse(body), SAMPLING_FALLBACK);
const admit = { limit: 100, perClientLimit: 100, clientId: "t", modelVersionId: null };

/** Every event of the job on the pool's (main-thread) emitter, up to its done or failed. */
const eventsOf = (id: string) =>
  new Promise<JobEvent[]>((resolve) => {
    const seen: JobEvent[] = [];
    pool.events.on(id, (e: JobEvent) => {
      seen.push(e);
      if (e.type === "done" || e.type === "failed") resolve(seen);
    });
  });

/** Resolves with check()'s first value that is not undefined (the test's own timeout bounds the wait). */
async function until<T>(check: () => Promise<T | undefined> | T | undefined): Promise<T> {
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("generation threads", () => {
  it("run queued jobs: each result is stored, and each job's events arrive on the main thread in order", async () => {
    const jobs = await Promise.all([1, 2, 3].map((seed) => enqueue(db, req({ prompt: "red heart", n: 2, seed }), admit)));
    const events = Promise.all(jobs.map((j) => eventsOf(j.id)));
    pool.notify();
    for (const seen of await events) {
      // progress… then done, tokens counting up to the total; the partial pictures travel too.
      expect(seen.at(-1)).toEqual({ type: "done" });
      const progress = seen.slice(0, -1);
      expect(progress.length).toBeGreaterThan(1);
      expect(progress.every((e) => e.type === "progress")).toBe(true);
      const done = progress.map((e) => (e.type === "progress" ? e.done : -1));
      expect(done).toEqual([...done].sort((a, b) => a - b));
      expect(progress.at(-1)).toMatchObject({ done: 64, total: 64 });
      expect(progress.some((e) => e.type === "progress" && e.partial?.[0]?.startsWith("data:image/png;base64,"))).toBe(true);
    }
    for (const j of jobs) {
      const row = await db.generation.findUniqueOrThrow({ where: { id: j.id }, include: { images: true } });
      expect(row).toMatchObject({ status: "done", attempts: 1, workerId: null });
      expect(row.images).toHaveLength(2);
    }
    // No worker runs on this (the test's) thread: the threads did it, and said so.
    expect(pool.finished.reduce((a, b) => a + b, 0)).toBe(3);
    expect(pool.loadedNames).toContain("m1");
  }, 120_000);

  it("share the queue: two threads hold a job each at once, and every job runs exactly once", async () => {
    // A job's completion fails while this trigger exists, so each thread stays on the job it claimed (retrying the
    // write) and the next queued job can only be taken by the other thread.
    const side = new Database(file);
    side.exec(
      `CREATE TRIGGER hold_done BEFORE UPDATE ON Generation WHEN NEW.status = 'done' BEGIN SELECT RAISE(ABORT, 'held by the test'); END`,
    );
    try {
      const before = pool.finished;
      const jobs = await Promise.all([4, 5, 6].map((seed) => enqueue(db, req({ prompt: "grinning cat", n: 1, seed }), admit)));
      const events = Promise.all(jobs.map((j) => eventsOf(j.id)));
      pool.notify();
      const holders = await until(async () => {
        const running = await db.generation.findMany({ where: { status: "running" }, select: { workerId: true } });
        return running.length === 2 ? running.map((r) => r.workerId).sort() : undefined;
      });
      expect(holders).toEqual(
        pool
          .running()
          .map((t) => t.workerId)
          .sort(),
      );
      // Their failing writes reach the health report through the pool.
      expect(await until(() => pool.lastWriteError ?? undefined)).toBeTruthy();
      await until(() => (pool.busy === 2 ? true : undefined));
      // Neither thread's sweep takes its sibling's job (nor its own) while both live.
      expect(await pool.sweep()).toEqual({ requeued: 0, failed: 0 });
      side.exec("DROP TRIGGER hold_done");
      const seen = await events;
      for (const s of seen) expect(s.filter((e) => e.type === "done" || e.type === "failed")).toEqual([{ type: "done" }]);
      const rows = await db.generation.findMany({ where: { id: { in: jobs.map((j) => j.id) } }, include: { images: true } });
      expect(rows.map((r) => [r.status, r.attempts, r.images.length])).toEqual(jobs.map(() => ["done", 1, 1]));
      // Both threads finished jobs.
      const ran = pool.finished.map((n, i) => n - before[i]);
      expect(ran.reduce((a, b) => a + b, 0)).toBe(3);
      expect(ran.every((n) => n >= 1)).toBe(true);
    } finally {
      side.exec("DROP TRIGGER IF EXISTS hold_done");
      side.close();
    }
  }, 120_000);

  it("never re-queue a live sibling's running job, and take over the jobs of a thread that died", async () => {
    const [a, b] = pool.running();
    const { prompt, ...params } = req({ prompt: "waving hand", n: 1, seed: 7 });
    // Claimed by thread a with a lease of ten minutes: only a's death can free it before the test ends.
    const job = await db.generation.create({
      data: {
        prompt,
        params,
        seed: 7,
        status: "running",
        attempts: 1,
        workerId: a.workerId,
        leaseUntil: new Date(Date.now() + 600_000),
        startedAt: new Date(),
      },
    });
    expect(await pool.sweep()).toEqual({ requeued: 0, failed: 0 });
    expect(await db.generation.findUniqueOrThrow({ where: { id: job.id } })).toMatchObject({ status: "running", workerId: a.workerId });
    // a dies (as a crash would end it); the pool restarts it under a new id, and its job goes to a live thread.
    const events = eventsOf(job.id);
    await a.worker.terminate();
    await pool.ready();
    const now = pool.running();
    expect(now.map((t) => t.index).sort()).toEqual([0, 1]);
    expect(now.map((t) => t.workerId)).not.toContain(a.workerId);
    expect(now.map((t) => t.workerId)).toContain(b.workerId);
    await pool.sweep();
    // Taken over at once (re-queued, maybe claimed again already), not when its lease would have run out.
    expect((await db.generation.findUniqueOrThrow({ where: { id: job.id } })).workerId).not.toBe(a.workerId);
    expect((await events).at(-1)).toEqual({ type: "done" });
    const row = await db.generation.findUniqueOrThrow({ where: { id: job.id }, include: { images: true } });
    expect(row).toMatchObject({ status: "done", attempts: 2, note: REQUEUED_NOTE });
    expect(row.images).toHaveLength(1);
    expect(logged.some((m) => /generation thread \d exited \(code 1\); restarting it in \d+ ms/.test(m))).toBe(true);
  }, 120_000);

  it("stop() ends every thread, one being restarted included, and resolves once they have exited", async () => {
    const threads = pool.running().map((t) => t.worker);
    expect(threads).toHaveLength(2);
    // One dies just before the stop: it is not restarted.
    void threads[1].terminate();
    await pool.stop();
    expect(pool.running()).toEqual([]);
    // A Worker's threadId turns -1 once its thread no longer runs.
    expect(threads.map((w) => w.threadId)).toEqual([-1, -1]);
    expect(pool.busy).toBe(0);
  }, 120_000);
});
