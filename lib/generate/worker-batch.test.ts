// Batching across jobs through the real job path: a real SQLite database, tiny model folders (their transformers'
// weights scrambled so that logits matter), the worker. Jobs queued together for one model run in one pass (the job's
// timings say: batchJobs, batchRows) and each stores exactly the images it stores alone; models are never mixed;
// MAX_BATCH holds; one job's lost lease or failing write stops or holds up that job only.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeTinyClip } from "../../test/fixtures/tiny-clip";
import { writeTinyModelFolder } from "../../test/fixtures/tiny-model";
import { scrambleWeights } from "../../test/fixtures/tiny-transformer";
import { createDb, type Db } from "../db/client";
import { migrate } from "../db/migrate";
import { serverEnv } from "../env";
import { saveCheckpoint } from "../model/checkpoint";
import { Transformer } from "../model/transformer";
import { selectBackend } from "../tensor/backend";
import { GenerationParams, SAMPLING_FALLBACK, withSamplingDefaults } from "./params";
import { enqueue } from "./queue";
import { ensureDefaultVersion, ModelRegistry } from "./registry";
import { GenerationWorker, type JobEvent, type WorkerOptions } from "./worker";

let dir: string;
let file: string;
let db: Db;
let other: string;
let ranked: string;
const quiet = { info() {}, error() {} };
const req = (body: object) => withSamplingDefaults(GenerationParams.parse(body), SAMPLING_FALLBACK);

async function scrambledFolder(folder: string, seed: number, clip = false): Promise<string> {
  await writeTinyModelFolder(folder, 16, seed);
  if (clip) await writeTinyClip(folder);
  const { model, manifest } = Transformer.load(folder);
  scrambleWeights(model, seed * 100);
  await saveCheckpoint(folder, model.params.all(), { kind: "transformer", config: model.config, dtype: "float16", extra: manifest.extra });
  model.dispose();
  return folder;
}

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-worker-batch-"));
  file = path.join(dir, "t.db");
  await migrate(`file:${file}`);
  db = createDb(`file:${file}`);
  await ensureDefaultVersion(db, await scrambledFolder(path.join(dir, "m1"), 2));
  const mk = async (name: string, seed: number, clip: boolean) =>
    (
      await db.modelVersion.create({
        data: { name, kind: "dalle", path: await scrambledFolder(path.join(dir, name), seed, clip), config: {} },
      })
    ).id;
  other = await mk("other", 9, false);
  ranked = await mk("ranked", 4, true);
});
afterAll(async () => {
  await db?.$disconnect();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Queues every job, then starts one worker loop on them; resolves with each job's events once all have ended. */
async function runTogether(
  bodies: { body: object; model?: string }[],
  o: Partial<WorkerOptions> = {},
  watch?: (w: GenerationWorker, ids: string[]) => void,
) {
  const registry = new ModelRegistry(db);
  const worker = new GenerationWorker(db, registry, { concurrency: 1, partialEvery: 32, log: quiet, ...o });
  const ids: string[] = [];
  for (const { body, model } of bodies)
    ids.push((await enqueue(db, req(body), { limit: 99, perClientLimit: 99, clientId: "b", modelVersionId: model ?? null })).id);
  const events = ids.map((id) => {
    const seen: JobEvent[] = [];
    return new Promise<JobEvent[]>((resolve) =>
      worker.events.on(id, (e: JobEvent) => {
        seen.push(e);
        if (e.type === "done" || e.type === "failed") resolve(seen);
      }),
    );
  });
  watch?.(worker, ids);
  worker.start();
  const all = await Promise.all(events);
  await worker.stop();
  registry.dispose();
  const jobs = await Promise.all(
    ids.map((id) => db.generation.findUniqueOrThrow({ where: { id }, include: { images: { orderBy: { index: "asc" } } } })),
  );
  return jobs.map((job, i) => ({
    job,
    events: all[i],
    batch: job.timings as { batchJobs: number; batchRows: number },
    pngs: job.images.map((img) => Buffer.from(img.png!).toString("base64")), // IMAGE_STORE=database: bytes in the row
  }));
}

const guided = { prompt: "red heart, twemoji", n: 2, guidance: 2.5, temperature: 0.7, seed: 5 };
const unguided = { prompt: "grinning cat, noto", n: 3, guidance: 1, temperature: 1, topK: 4, seed: 6 };

describe("batching across jobs", () => {
  it("samples a guided and an unguided job queued together in one pass, each with exactly the images it gets alone", async () => {
    const together = await runTogether([{ body: guided }, { body: unguided }]);
    const alone = [(await runTogether([{ body: guided }]))[0], (await runTogether([{ body: unguided }]))[0]];
    expect(together.map((t) => [t.job.status, t.batch.batchJobs, t.batch.batchRows])).toEqual([
      ["done", 2, 5],
      ["done", 2, 5],
    ]);
    expect(alone.map((t) => [t.job.status, t.batch.batchJobs, t.batch.batchRows])).toEqual([
      ["done", 1, 2],
      ["done", 1, 3],
    ]);
    together.forEach((t, i) => {
      expect(t.pngs).toHaveLength([2, 3][i]);
      expect(t.pngs).toEqual(alone[i].pngs);
      // Its own progress stream: every token, one partial picture of its own n images at 32 tokens.
      const progress = t.events.filter((e) => e.type === "progress");
      expect(progress.map((e) => e.done)).toEqual(Array.from({ length: 64 }, (_, k) => k + 1));
      expect(progress.flatMap((e) => (e.partial ? [e.partial.length] : []))).toEqual([[2, 3][i]]);
    });
    // Not trivially equal: the two jobs' images differ.
    expect(together[0].pngs[0]).not.toEqual(together[1].pngs[0]);
  });

  it("never mixes models: a job for another version runs apart, one naming the active version joins unversioned ones", async () => {
    const active = (await db.modelVersion.findFirstOrThrow({ where: { active: true } })).id;
    const r = await runTogether([
      { body: { ...guided, n: 1 } },
      { body: { ...guided, n: 1 }, model: other },
      { body: unguided, model: active },
    ]);
    expect(r.map((t) => [t.batch.batchJobs, t.job.modelVersionId])).toEqual([
      [2, active],
      [1, other],
      [2, active],
    ]);
    expect(r[1].pngs).toEqual((await runTogether([{ body: { ...guided, n: 1 }, model: other }]))[0].pngs);
  });

  it("holds MAX_BATCH sequences per pass (a larger job runs alone), counting candidates when the model reranks", async () => {
    const n = (k: number) => ({ body: { ...unguided, n: k } });
    const r = await runTogether([n(2), n(3), n(2), n(1), n(5)], { maxBatch: 4 });
    // First fit, oldest first: [2, 2] (the 3 does not fit), then the 3 heads [3, 1], then the 5 alone.
    expect(r.map((t) => [t.batch.batchJobs, t.batch.batchRows])).toEqual([
      [2, 4],
      [2, 4],
      [2, 4],
      [2, 4],
      [1, 5],
    ]);
    const c = (n: number, candidates: number) => ({ body: { ...guided, n, candidates }, model: ranked });
    const rr = await runTogether([c(1, 5), c(1, 4), c(2, 4)], { maxBatch: 8 });
    expect(rr.map((t) => [t.job.candidates, t.batch.batchJobs, t.batch.batchRows])).toEqual([
      [5, 1, 5],
      [4, 2, 8],
      [4, 2, 8],
    ]);
    const env = (e: Record<string, string>) => serverEnv({ NODE_ENV: "test", ...e });
    expect(env({}).MAX_BATCH).toBe(16);
    expect(() => env({ MAX_BATCH: "0" })).toThrow(/MAX_BATCH/);
  });

  it("renews every claimed job's lease, and a lost lease stops only that job: the batch finishes, its rows are not stored", async () => {
    let renewed: boolean | undefined;
    const r = await runTogether([{ body: guided }, { body: unguided }], { heartbeatMs: 10 }, (worker, [a, b]) => {
      let stolen = false;
      worker.events.on(b, (e: JobEvent) => {
        // A stopped job gets no event of its own (its new worker sends them): end the wait for it with the batch.
        if (e.type === "done") worker.events.emit(a, { type: "failed", error: "(test) taken over" });
        if (e.type !== "progress" || e.done !== 40) return;
        // The second job was claimed with the first's model already loaded; heartbeats must renew it too.
        void db.generation
          .findUniqueOrThrow({ where: { id: b } })
          .then((g) => (renewed = g.leaseUntil!.getTime() > g.startedAt!.getTime() + 30_000));
      });
      worker.events.on(a, (e: JobEvent) => {
        if (e.type !== "progress" || stolen) return;
        stolen = true;
        // Another worker takes the first job over (as after an expired lease). (A Prisma query runs once awaited.)
        void db.generation.update({ where: { id: a }, data: { workerId: "elsewhere:9:thief" } }).then(() => {});
      });
    });
    expect(renewed).toBe(true);
    expect(r[1].job.status).toBe("done");
    expect(r[1].pngs).toHaveLength(3);
    expect(r[0].job).toMatchObject({ status: "running", workerId: "elsewhere:9:thief" });
    expect(r[0].pngs).toEqual([]);
    // It stopped streaming once the lease was found gone, well before its last token.
    expect(r[0].events.filter((e) => e.type === "progress").length).toBeLessThan(64);
    await db.generation.update({ where: { id: r[0].job.id }, data: { status: "failed", workerId: null } });
  });

  it("a job whose writes keep failing does not hold up or lose the others in its batch", async () => {
    const side = new Database(file);
    let held = false;
    const r = await runTogether([{ body: guided }, { body: unguided }], { retryMs: [20, 50] }, (worker, [a, b]) => {
      side.exec(
        `CREATE TRIGGER "fault_one" BEFORE INSERT ON Image WHEN NEW.generationId = '${a}' BEGIN SELECT RAISE(ABORT, 'disk I/O error (injected)'); END`,
      );
      worker.events.on(b, async (e: JobEvent) => {
        if (e.type !== "done") return;
        // The second job is done while the first one's completion still fails: then writes work again.
        held = (await db.generation.findUniqueOrThrow({ where: { id: a } })).status === "running";
        side.exec('DROP TRIGGER "fault_one"');
      });
    });
    side.close();
    expect(held).toBe(true);
    expect(r.map((t) => [t.job.status, t.pngs.length, t.batch.batchJobs])).toEqual([
      ["done", 2, 2],
      ["done", 3, 2],
    ]);
  });
});
