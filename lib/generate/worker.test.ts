// The queue, registry and worker against a real SQLite database and a real (tiny) model folder.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, type Db } from "../db/client";
import { migrate } from "../db/migrate";
import { selectBackend } from "../tensor/backend";
import { enqueue, GenerationParams, QueueFullError, recoverOnBoot } from "./queue";
import { ensureDefaultVersion, ModelRegistry } from "./registry";
import { writeTinyModelFolder } from "../../test/fixtures/tiny-model";
import { GenerationWorker, type JobEvent } from "./worker";

let dir: string;
let db: Db;
const quiet = { info() {}, error() {} };

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-worker-"));
  const url = `file:${path.join(dir, "t.db")}`;
  await migrate(url);
  db = createDb(url);
  await writeTinyModelFolder(path.join(dir, "m1"));
  await ensureDefaultVersion(db, path.join(dir, "m1"));
});
afterAll(async () => {
  await db?.$disconnect();
  fs.rmSync(dir, { recursive: true, force: true });
});

const waitFor = (worker: GenerationWorker, id: string) =>
  new Promise<JobEvent[]>((resolve) => {
    const seen: JobEvent[] = [];
    worker.events.on(id, (e: JobEvent) => {
      seen.push(e);
      if (e.type !== "progress") resolve(seen);
    });
  });

describe("generation params", () => {
  it("trims the prompt and rejects empty, too long and out-of-range input with a message", () => {
    expect(GenerationParams.parse({ prompt: "  red heart  " })).toMatchObject({ prompt: "red heart", n: 4, guidance: 3 });
    const err = (x: object) => GenerationParams.safeParse(x).error?.issues[0].message;
    expect(err({ prompt: "   " })).toBe("the prompt is empty");
    expect(err({ prompt: "x".repeat(201) })).toBe("the prompt is longer than 200 characters");
    expect(err({ prompt: "ok", n: 10 })).toBe("n must be 1–9");
    expect(err({})).toBe("prompt is required");
  });
});

describe("worker", () => {
  it("runs queued jobs to done with their images, reporting progress", async () => {
    const registry = new ModelRegistry(db);
    const worker = new GenerationWorker(db, registry, { concurrency: 1, partialEvery: 32, log: quiet });
    const a = await enqueue(db, GenerationParams.parse({ prompt: "red heart", n: 2, seed: 5 }), { limit: 10, modelVersionId: null });
    const b = await enqueue(db, GenerationParams.parse({ prompt: "grinning cat", n: 1 }), { limit: 10, modelVersionId: null });
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
    const err = await enqueue(db, GenerationParams.parse({ prompt: "one more" }), { limit: 1, modelVersionId: null }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueueFullError);
    expect((err as QueueFullError).retryAfterS).toBeGreaterThan(0);
    await db.generation.deleteMany({ where: { prompt: "waiting" } });
  });

  it("re-queues jobs a dead process left running, and gives up on the second interruption", async () => {
    const job = await db.generation.create({ data: { prompt: "crash", params: {}, seed: 1, status: "running" } });
    expect(await recoverOnBoot(db)).toEqual({ requeued: 1, failed: 0 });
    expect((await db.generation.findUniqueOrThrow({ where: { id: job.id } })).status).toBe("queued");
    await db.generation.update({ where: { id: job.id }, data: { status: "running" } });
    expect(await recoverOnBoot(db)).toEqual({ requeued: 0, failed: 1 });
    expect((await db.generation.findUniqueOrThrow({ where: { id: job.id } })).error).toMatch(/interrupted twice/);
  });

  it("swaps to a newly activated version and frees the old one when its last job ends", async () => {
    const registry = new ModelRegistry(db);
    const first = await registry.acquire();
    await writeTinyModelFolder(path.join(dir, "m2"), 16, 7);
    await db.modelVersion.updateMany({ data: { active: false } });
    const v2 = await db.modelVersion.create({ data: { name: "m2", kind: "dalle", path: path.join(dir, "m2"), config: {}, active: true } });
    const second = await registry.acquire();
    expect(second.versionId).toBe(v2.id);
    expect(second.versionId).not.toBe(first.versionId);
    // The old model still works for the job that holds it.
    expect(first.bundle.transformer.params.names().length).toBeGreaterThan(0);
    first.release();
    second.release();
    expect(registry.loadedName).toBe("m2");
    registry.dispose();
  });
});
