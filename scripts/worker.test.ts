// Many workers, one queue (issue 18 part 3), against a real PostgreSQL (TESSERA_TEST_PG_URL; CI starts one):
// two `npm run worker` processes on the shipped model share 40 jobs and one image folder (IMAGE_STORE), one is
// killed with SIGKILL while it holds jobs, and every job still finishes exactly once with all of its images — the
// killed worker's on the other.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ownPgDatabase } from "../test/fixtures/scratch-db";
import { createDb, type Db } from "../lib/db/client";
import { REQUEUED_NOTE } from "../lib/db/generations";
import { getImagePng } from "../lib/db/images";
import { openImageStore } from "../lib/db/image-store";
import { migrate } from "../lib/db/migrate";
import { activateModelVersion, upsertModelVersion } from "../lib/db/versions";
import { readCheckpointManifest } from "../lib/model/checkpoint";
import { GenerationParams, withSamplingDefaults } from "../lib/generate/params";
import { samplingDefaultsFor } from "../lib/generate/sampling-defaults";
import { enqueue } from "../lib/generate/queue";

const root = path.resolve(import.meta.dirname, "..");
const serverUrl = process.env.TESSERA_TEST_PG_URL;
/** This file's own database on that server (test/fixtures/scratch-db.ts ownPgDatabase), made in beforeAll. */
let url = "";
let own: Awaited<ReturnType<typeof ownPgDatabase>> | undefined;
const JOBS = 40;
const images = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-worker-images-"));

interface Proc {
  child: ChildProcess;
  pid: number;
  lines: string[];
  exited: Promise<number | null>;
}

/** `npm run worker` as one node process (no npm/tsx wrapper between), so its pid is the worker's. */
function startWorker(): Proc {
  const child = spawn(process.execPath, ["--import", "tsx", "scripts/worker.ts"], {
    cwd: root,
    env: {
      ...process.env,
      DATABASE_URL: url,
      TESSERA_MODEL_DIR: "models/default",
      TESSERA_EXTRA_MODEL_DIRS: "",
      // Short leases, so a takeover does not depend on the dead worker being on this host.
      JOB_LEASE_MS: "4000",
      WORKER_THREADS: "1",
      PARTIAL_EVERY: "0",
      IMAGE_STORE: images,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    let rest = "";
    stream.on("data", (chunk: Buffer) => {
      const parts = (rest + chunk.toString()).split("\n");
      rest = parts.pop() ?? "";
      lines.push(...parts);
    });
  }
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const proc = { child, pid: child.pid!, lines, exited };
  started.push(proc);
  return proc;
}

async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs: number, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${logs()}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const started: Proc[] = [];
/** The last lines of every worker's log, for a failure's message. */
const logs = () => started.map((p, i) => `--- worker ${i} (pid ${p.pid}):\n${p.lines.slice(-15).join("\n")}`).join("\n");

/** Job ids a worker's log says it stored ("generation <id> done by <worker id>: …"). */
const doneIn = (p: Proc) => p.lines.flatMap((l) => l.match(/generation (\w+) done by /)?.[1] ?? []);

describe.runIf(serverUrl)("two worker processes on one PostgreSQL queue (TESSERA_TEST_PG_URL)", () => {
  let db: Db;
  const workers: Proc[] = [];
  beforeAll(async () => {
    own = await ownPgDatabase(serverUrl as string, "workers");
    url = own.url;
    await migrate(url, root);
    db = createDb(url);
    // The shipped model must be the active version.
    const manifest = readCheckpointManifest(path.join(root, "models/default"));
    const version = await upsertModelVersion(db, {
      name: "multi-worker-test",
      kind: "dalle",
      path: "models/default",
      config: manifest.config as object,
      metrics: manifest.metrics as object,
    });
    await activateModelVersion(db, version.id);
  });
  afterAll(async () => {
    for (const w of workers) w.child.kill("SIGKILL");
    await db?.$disconnect();
    await own?.drop();
    fs.rmSync(images, { recursive: true, force: true });
  });

  it("runs every job exactly once, and a job of a worker killed mid-job finishes on the other, with every image", async () => {
    const [a, b] = [startWorker(), startWorker()];
    workers.push(a, b);
    for (const w of [a, b])
      await until("the worker to start", () => (w.lines.some((l) => l.includes("polling the queue")) ? true : undefined), 90_000, 200);

    // Alternate shapes of job, so batches mix jobs (MAX_BATCH 16: two 8-candidate jobs, or 8 one-image ones).
    const ids: string[] = [];
    for (let i = 0; i < JOBS; i++) {
      const asked =
        i % 2 ? { prompt: "thumbs up, twemoji", n: 2, candidates: 8, seed: i } : { prompt: "red heart", n: 1, candidates: 2, seed: i };
      // As the API queues it: the model's measured sampling defaults fill what the request leaves out.
      const params = withSamplingDefaults(GenerationParams.parse(asked), samplingDefaultsFor("models/default"));
      ids.push(
        (await enqueue(db, params, { limit: 10_000, perClientLimit: 10_000, clientId: "multi-worker-test", modelVersionId: null })).id,
      );
    }
    const mine = { id: { in: ids } };

    // Kill A once it has stored a job and holds running ones. A is stopped (SIGSTOP) while its jobs are read, so it
    // cannot finish one between the read (once what it sent has landed) and the kill: the jobs read are exactly
    // those it holds when it dies.
    const prefixA = `${os.hostname()}:${a.pid}:`;
    const heldByA = await until(
      "worker A to hold a job",
      async () => {
        const failed = await db.generation.findFirst({ where: { ...mine, status: "failed" } });
        if (failed) throw new Error(`job ${failed.id} failed: ${failed.error}\n${logs()}`);
        if (doneIn(a).length === 0) return undefined;
        a.child.kill("SIGSTOP");
        // A statement A sent just before (a completion's COMMIT) still lands: let it, then read.
        await new Promise((r) => setTimeout(r, 300));
        const held = await db.generation.findMany({
          where: { ...mine, status: "running", workerId: { startsWith: prefixA } },
          select: { id: true },
        });
        if (held.length) return held.map((j) => j.id);
        a.child.kill("SIGCONT");
        return undefined;
      },
      120_000,
      20,
    );
    a.child.kill("SIGKILL");
    await a.exited;
    const doneByA = new Set(doneIn(a));

    const finished = await until(
      "every job to finish",
      async () => {
        const rows = await db.generation.findMany({
          where: mine,
          include: { images: { select: { id: true, index: true, rejected: true, storeKey: true } } },
        });
        return rows.every((r) => r.status === "done" || r.status === "failed") ? rows : undefined;
      },
      240_000,
      250,
    );
    const byId = new Map(finished.map((r) => [r.id, r]));

    expect(ids.map((id) => [id, byId.get(id)?.status, byId.get(id)?.error])).toEqual(ids.map((id) => [id, "done", null]));
    const store = openImageStore(images);
    // Every image: n kept at 0..n−1, the other candidates rejected after them, each index once, each a PNG.
    for (const [i, id] of ids.entries()) {
      const [n, candidates] = i % 2 ? [2, 8] : [1, 2];
      const rows = byId.get(id)!.images.sort((x, y) => x.index - y.index);
      expect(rows.map((img) => [img.index, img.rejected, img.storeKey !== null])).toEqual(
        Array.from({ length: candidates }, (_, k) => [k, k >= n, true]),
      );
      for (const img of rows)
        expect(
          Buffer.from((await getImagePng(db, img.id, store))!.png)
            .subarray(1, 4)
            .toString(),
        ).toBe("PNG");
    }
    // Each job stored once: no id twice in the logs, and none in both.
    const storedLines = [...doneIn(a), ...doneIn(b)].filter((id) => ids.includes(id));
    expect(new Set(storedLines).size).toBe(storedLines.length);
    expect(doneByA.size).toBeGreaterThan(0);
    // The jobs A held when it died (those seen before the kill, and any it claimed in the last milliseconds) were
    // re-queued — a second claim — and stored by B; every other job was claimed once.
    const reclaimed = ids.filter((id) => byId.get(id)!.attempts > 1);
    expect(reclaimed).toEqual(expect.arrayContaining(heldByA));
    for (const id of reclaimed) {
      expect(byId.get(id)).toMatchObject({ attempts: 2, note: REQUEUED_NOTE });
      expect([doneByA.has(id), doneIn(b).includes(id)]).toEqual([false, true]);
    }
    // Every other job was claimed once, so stored once, by A or by B. (A's log may lack the last jobs it stored:
    // a worker thread's console reaches the process's stdout asynchronously, and SIGKILL drops what is in flight.)
    for (const id of ids.filter((x) => !reclaimed.includes(x))) expect(byId.get(id)!.attempts).toBe(1);
    expect(doneIn(b).length).toBeGreaterThan(0);

    // SIGTERM stops B cleanly.
    b.child.kill("SIGTERM");
    expect(await b.exited).toBe(0);
    expect(b.lines).toContain("[tessera] worker stopped");
  }, 400_000);
});
