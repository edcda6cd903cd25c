// The queue, registry and worker against a real SQLite database and a real (tiny) model folder.
import { spawnSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeScratchDb, openScratchDb, type ScratchDb } from "../../test/fixtures/scratch-db";
import { writeTinyModelFolder } from "../../test/fixtures/tiny-model";
import type { Db } from "../db/client";
import { claimNextJob, GAVE_UP_ERROR, REQUEUED_NOTE, takeOverAbandoned } from "../db/generations";
import { selectBackend } from "../tensor/backend";
import { enqueue, GenerationParams, QueueFullError, type EnqueueOptions } from "./queue";
import { generationParamsFor, SAMPLING_FALLBACK, withCandidates, withSamplingDefaults } from "./params";
import { ensureDefaultVersion, ModelRegistry } from "./registry";
import { GenerationWorker, type JobEvent } from "./worker";

let scratch: ScratchDb | undefined;
let dir: string;
let file: string;
let db: Db;
const admit = (o: Partial<EnqueueOptions> = {}): EnqueueOptions => ({
  limit: 10,
  perClientLimit: 10,
  clientId: "a",
  modelVersionId: null,
  ...o,
});
const quiet = { info() {}, error() {} };

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  scratch = await openScratchDb("worker");
  db = scratch.db;
  [dir, file] = [scratch.dir!, scratch.file!];
  await writeTinyModelFolder(path.join(dir, "m1"));
  await ensureDefaultVersion(db, path.join(dir, "m1"));
});
afterAll(() => closeScratchDb(scratch));

const waitFor = (worker: GenerationWorker, id: string) =>
  new Promise<JobEvent[]>((resolve) => {
    const seen: JobEvent[] = [];
    worker.events.on(id, (e: JobEvent) => {
      seen.push(e);
      if (e.type !== "progress") resolve(seen);
    });
  });

const req = (body: object) => withSamplingDefaults(GenerationParams.parse(body), SAMPLING_FALLBACK);

describe("generation params", () => {
  it("trims the prompt and rejects empty, too long and out-of-range input with a message", () => {
    expect(GenerationParams.parse({ prompt: "  red heart  " })).toEqual({ prompt: "red heart", n: 4 });
    // Sampling settings left out come from the model's measured defaults; those given are kept.
    const model = { guidance: 2, temperature: 0.3, topK: 8 };
    expect(withSamplingDefaults(GenerationParams.parse({ prompt: "a", temperature: 1 }), model)).toMatchObject({
      guidance: 2,
      temperature: 1,
      topK: 8,
    });
    expect(withSamplingDefaults(GenerationParams.parse({ prompt: "a" }), SAMPLING_FALLBACK)).toMatchObject({
      guidance: 1.5,
      temperature: 0.7,
      topK: 0,
    });
    const err = (x: object) => GenerationParams.safeParse(x).error?.issues[0].message;
    expect(err({ prompt: "   " })).toBe("the prompt is empty");
    expect(err({ prompt: "x".repeat(201) })).toBe("the prompt is longer than 200 characters");
    expect(err({ prompt: "ok", n: 10 })).toBe("n must be a whole number 1–9");
    expect(err({})).toBe("prompt is required");
  });

  it("takes JSON numbers only, a visible prompt, valid text and known fields", () => {
    const err = (x: object) => GenerationParams.safeParse(x).error?.issues[0].message;
    for (const n of ["4", true, [1], null, 2.5]) expect(err({ prompt: "ok", n })).toBe("n must be a whole number 1–9");
    expect(err({ prompt: "ok", seed: null })).toBe("seed must be a whole number 0–2147483647");
    expect(err({ prompt: "ok", seed: "0x10" })).toBe("seed must be a whole number 0–2147483647");
    expect(err({ prompt: "ok", guidance: "3" })).toBe("guidance must be a number 1–10");
    expect(err({ prompt: "\u200b\u200d\ufeff" })).toBe("the prompt has no visible character");
    expect(err({ prompt: "a \ud800" })).toMatch(/not text/);
    expect(err({ prompt: "a\u0000b" })).toMatch(/not text/);
    expect(err({ prompt: "ok", promt: "typo" })).toBe("unknown field: promt");
    expect(GenerationParams.parse({ prompt: "ok", seed: 0 }).seed).toBe(0);
  });
});

describe("candidates", () => {
  it("default to the server's setting, never below n, and are held to the server's cap", () => {
    const server = { default: 16, max: 32 };
    expect(withCandidates(GenerationParams.parse({ prompt: "a" }), server).candidates).toBe(16);
    expect(withCandidates(GenerationParams.parse({ prompt: "a", candidates: 5 }), server).candidates).toBe(5);
    // A default below n (or a cap below it) still samples n: fewer could not yield n images.
    expect(withCandidates(GenerationParams.parse({ prompt: "a", n: 9 }), { default: 4, max: 6 }).candidates).toBe(9);
    expect(withCandidates(GenerationParams.parse({ prompt: "a" }), { default: 16, max: 8 }).candidates).toBe(8);
    const err = (x: object) => generationParamsFor(32).safeParse(x).error?.issues[0].message;
    expect(err({ prompt: "a", candidates: 33 })).toBe("candidates must be a whole number 1–32");
    expect(err({ prompt: "a", candidates: 64 })).toBe("candidates must be a whole number 1–32");
    expect(GenerationParams.safeParse({ prompt: "a", candidates: 64 }).success).toBe(true);
    expect(err({ prompt: "a", n: 3, candidates: 2 })).toMatch(/^candidates must be at least n/);
    expect(err({ prompt: "a", n: 3, candidates: 3 })).toBeUndefined();
  });
});

describe("worker", () => {
  it("runs queued jobs to done with their images, reporting progress", async () => {
    const registry = new ModelRegistry(db);
    const worker = new GenerationWorker(db, registry, { concurrency: 1, partialEvery: 32, log: quiet });
    const a = await enqueue(db, req({ prompt: "red heart", n: 2, seed: 5 }), admit());
    const b = await enqueue(db, req({ prompt: "grinning cat", n: 1 }), admit());
    const events = Promise.all([waitFor(worker, a.id), waitFor(worker, b.id)]);
    worker.start();
    worker.notify();
    const [ea] = await events;
    await worker.stop();
    expect(ea.at(-1)).toEqual({ type: "done" });
    expect(ea.filter((e) => e.type === "progress" && e.partial).length).toBe(1);
    const job = await db.generation.findUniqueOrThrow({ where: { id: a.id }, include: { images: true } });
    expect(job.status).toBe("done");
    expect(job.progress).toBe(1);
    expect(job.seed).toBe(5);
    expect(job.images.map((i) => i.index)).toEqual([0, 1]);
    expect(job.modelVersionId).not.toBeNull();
    expect(Object.keys(job.timings as object)).toEqual(expect.arrayContaining(["tokensMs", "totalMs"]));
    expect((await db.generation.findUniqueOrThrow({ where: { id: b.id } })).status).toBe("done");
    registry.dispose();
  });

  it("refuses new jobs beyond the queue limit with a retry delay", async () => {
    await db.generation.create({ data: { prompt: "waiting", params: {}, seed: 1 } });
    const err = await enqueue(db, req({ prompt: "one more" }), admit({ limit: 1 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueueFullError);
    expect((err as QueueFullError).retryAfterS).toBeGreaterThan(0);
    await db.generation.deleteMany({ where: { prompt: "waiting" } });
  });

  it("takes over jobs whose lease expired or whose worker process is gone, and gives up on the second interruption", async () => {
    const job = await db.generation.create({ data: { prompt: "crash", params: {}, seed: 1 } });
    // A worker on another host claims it and dies: its lease runs out, then any worker takes the job over.
    expect((await claimNextJob(db, "elsewhere:1:dead", 60_000))?.id).toBe(job.id);
    expect(await takeOverAbandoned(db)).toEqual({ requeued: 0, failed: 0 });
    expect(await takeOverAbandoned(db, () => false, 2, new Date(Date.now() + 61_000))).toEqual({ requeued: 1, failed: 0 });
    expect(await db.generation.findUniqueOrThrow({ where: { id: job.id } })).toMatchObject({
      status: "queued",
      note: REQUEUED_NOTE,
      error: null,
      workerId: null,
    });
    // A worker of this host whose process has exited is dead at once, whatever its lease says.
    const exited = spawnSync(process.execPath, ["-e", ""]).pid;
    await claimNextJob(db, `${os.hostname()}:${exited}:gone`, 60_000);
    const boot = new GenerationWorker(db, new ModelRegistry(db), { concurrency: 1, partialEvery: 0, log: quiet });
    expect(await boot.sweep()).toEqual({ requeued: 0, failed: 1 });
    expect(await db.generation.findUniqueOrThrow({ where: { id: job.id } })).toMatchObject({
      status: "failed",
      error: GAVE_UP_ERROR,
      attempts: 2,
    });
    // A live worker's job is left alone.
    const live = await db.generation.create({ data: { prompt: "alive", params: {}, seed: 1 } });
    await claimNextJob(db, boot.id, 60_000);
    expect(await boot.sweep()).toEqual({ requeued: 0, failed: 0 });
    await db.generation.deleteMany({ where: { id: { in: [job.id, live.id] } } });
  });

  it("finishes a job whose worker died: another worker takes it over once the lease expires", async () => {
    const job = await enqueue(db, req({ prompt: "red heart", n: 1, seed: 1 }), admit());
    expect((await claimNextJob(db, "elsewhere:2:dead", 400))?.id).toBe(job.id);
    const registry = new ModelRegistry(db);
    const worker = new GenerationWorker(db, registry, { concurrency: 1, partialEvery: 0, leaseMs: 1000, log: quiet });
    const events = waitFor(worker, job.id);
    worker.start();
    expect((await events).at(-1)).toEqual({ type: "done" });
    await worker.stop();
    registry.dispose();
    const done = await db.generation.findUniqueOrThrow({ where: { id: job.id }, include: { images: true } });
    expect(done).toMatchObject({ status: "done", note: REQUEUED_NOTE, error: null, attempts: 2, workerId: null });
    expect(done.images).toHaveLength(1);
  });

  it("a job running while the database refuses writes ends done once writes work again, never stuck running", async () => {
    const job = await enqueue(db, req({ prompt: "grinning cat", n: 2, seed: 3 }), admit());
    const registry = new ModelRegistry(db);
    const worker = new GenerationWorker(db, registry, {
      concurrency: 1,
      partialEvery: 0,
      leaseMs: 1500,
      heartbeatMs: 200,
      retryMs: [50, 200],
      log: quiet,
    });
    // A second connection to the same file makes every write to the queue fail, as a full disk or a read-only
    // remount would, from the job's first token until 2.5 s later (longer than the lease).
    const side = new Database(file);
    let faulted = false;
    const restored = new Promise<void>((resolve) => {
      worker.events.on(job.id, (e: JobEvent) => {
        if (e.type !== "progress" || faulted) return;
        faulted = true;
        for (const t of ["UPDATE ON Generation", "INSERT ON Image"]) {
          side.exec(
            `CREATE TRIGGER "fault_${t.split(" ").at(-1)}" BEFORE ${t} BEGIN SELECT RAISE(ABORT, 'disk I/O error (injected)'); END`,
          );
        }
        setTimeout(() => {
          side.exec('DROP TRIGGER "fault_Generation"; DROP TRIGGER "fault_Image"');
          resolve();
        }, 2500);
      });
    });
    const events = waitFor(worker, job.id);
    worker.start();
    await restored;
    // (The driver adapter reports a trigger's RAISE as a constraint violation.)
    expect(worker.lastWriteError).not.toBeNull();
    const last = (await events).at(-1);
    await worker.stop();
    registry.dispose();
    side.close();
    expect(faulted).toBe(true);
    expect(last).toEqual({ type: "done" });
    const after = await db.generation.findUniqueOrThrow({ where: { id: job.id }, include: { images: true } });
    // Finished by the worker that first claimed it, its failed writes retried: no takeover was needed.
    expect(after).toMatchObject({ status: "done", attempts: 1, error: null, workerId: null, leaseUntil: null });
    expect(after.images).toHaveLength(2);
    expect(worker.lastWriteError).toBeNull();
  });

  it("caps each client's pending jobs so one client cannot take the queue, and says which cap was hit", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push((await enqueue(db, req({ prompt: `a ${i}` }), admit({ limit: 5, perClientLimit: 3, clientId: "fair-a" }))).id);
    const refused = await enqueue(db, req({ prompt: "a 3" }), admit({ limit: 5, perClientLimit: 3, clientId: "fair-a" })).catch(
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(QueueFullError);
    expect((refused as QueueFullError).limit).toBe("client");
    expect((refused as QueueFullError).message).toMatch(/QUEUE_LIMIT_PER_CLIENT/);
    ids.push((await enqueue(db, req({ prompt: "b 0" }), admit({ limit: 5, perClientLimit: 3, clientId: "fair-b" }))).id);
    await db.generation.deleteMany({ where: { id: { in: ids } } });
  });

  it("runs each job on the version it was queued for, and a job queued for none on the active one", async () => {
    await writeTinyModelFolder(path.join(dir, "other"), 16, 9);
    const active = await db.modelVersion.findFirstOrThrow({ where: { active: true } });
    const other = await db.modelVersion.create({ data: { name: "other", kind: "dalle", path: path.join(dir, "other"), config: {} } });
    const registry = new ModelRegistry(db);
    const worker = new GenerationWorker(db, registry, { concurrency: 1, partialEvery: 0, log: quiet });
    const chosen = await enqueue(db, req({ prompt: "red heart", n: 1, seed: 2 }), admit({ modelVersionId: other.id }));
    const unset = await enqueue(db, req({ prompt: "red heart", n: 1, seed: 2 }), admit());
    const events = Promise.all([waitFor(worker, chosen.id), waitFor(worker, unset.id)]);
    worker.start();
    expect((await events).map((e) => e.at(-1))).toEqual([{ type: "done" }, { type: "done" }]);
    await worker.stop();
    // completeJob records the version that ran; both stay loaded (MODELS_LOADED 2).
    const ran = await db.generation.findMany({ where: { id: { in: [chosen.id, unset.id] } }, select: { id: true, modelVersionId: true } });
    expect(Object.fromEntries(ran.map((r) => [r.id, r.modelVersionId]))).toEqual({ [chosen.id]: other.id, [unset.id]: active.id });
    expect(registry.loadedIds.sort()).toEqual([active.id, other.id].sort());
    registry.dispose();
  });

  it("swaps to a newly activated version and, with one model loaded, frees the old one when its last job ends", async () => {
    const registry = new ModelRegistry(db, process.cwd(), 1);
    const first = await registry.acquire();
    await writeTinyModelFolder(path.join(dir, "m2"), 16, 7);
    await db.modelVersion.updateMany({ data: { active: false } });
    const v2 = await db.modelVersion.create({ data: { name: "m2", kind: "dalle", path: path.join(dir, "m2"), config: {}, active: true } });
    const second = await registry.acquire();
    expect(second.versionId).toBe(v2.id);
    expect(second.versionId).not.toBe(first.versionId);
    // The old model still works for the job that holds it, and is freed once it lets go.
    const weight = [...first.bundle.transformer.params.all().values()][0];
    expect(first.bundle.transformer.params.names().length).toBeGreaterThan(0);
    expect(weight.isDisposed).toBe(false);
    first.release();
    expect(weight.isDisposed).toBe(true);
    second.release();
    expect(registry.loadedName).toBe("m2");
    registry.dispose();
  });
});
