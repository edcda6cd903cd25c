// Faults that heal, under load, with the real service (two generation threads, a folder image store, SQLite): an
// outside read transaction held (12 s in the issue; 5 s here by default), then the WAL file, the database's folder and the image folder each made
// unwritable (10 s in the issue, 3 s here) (chattr +i: root only, since chmod does not stop root) and restored. Each time: health is
// degraded during the fault, every job ends done or failed within a minute of the restore without a restart, every
// job the queue acknowledged is in the database, and no image file is left that no row names.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serviceSandbox, stopService } from "../../test/fixtures/service";
import { writeTinyModelFolder } from "../../test/fixtures/tiny-model";
import { getDb } from "../db/client";
import { getHealth } from "../health";
import { selectBackend } from "../tensor/backend";
import { GenerationParams, SAMPLING_FALLBACK, withSamplingDefaults } from "./params";
import { enqueue } from "./queue";
import { generationService } from "./service";

let dir: string;
let file: string;
let images: string;
const saved = { ...process.env };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  dir = await serviceSandbox("tessera-faults-", "m1", { threads: 2 });
  file = path.join(dir, "test.db");
  images = path.join(dir, "images");
  // As the server's start does (imageStore() at boot): the folder exists before the first job.
  fs.mkdirSync(images, { recursive: true });
  await writeTinyModelFolder(path.join(dir, "m1"));
  // One job per batch and a short lease, so that a job given up is taken over within the test's minute.
  Object.assign(process.env, { IMAGE_STORE: images, MAX_BATCH: "1", WORKER_CONCURRENCY: "1", JOB_LEASE_MS: "5000", PARTIAL_EVERY: "0" });
  await (await generationService()).threads!.ready();
}, 120_000);
afterAll(async () => {
  await stopService(dir);
  process.env = saved;
});

const acknowledged: string[] = [];
async function load(jobs: number): Promise<void> {
  for (let i = 0; i < jobs; i++) {
    const params = withSamplingDefaults(GenerationParams.parse({ prompt: "red heart", n: 2, seed: i }), SAMPLING_FALLBACK);
    const job = await enqueue(getDb(), params, { limit: 1000, perClientLimit: 1000, clientId: "f", modelVersionId: null });
    acknowledged.push(job.id);
  }
  (await generationService()).worker.notify();
}

const pending = () => getDb().generation.count({ where: { status: { in: ["queued", "running"] } } });

/** Files in the image folder that no Image row names. */
async function orphanFiles(): Promise<string[]> {
  const named = new Set((await getDb().image.findMany({ select: { storeKey: true } })).map((r) => r.storeKey));
  const files = (fs.readdirSync(images, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((d) => d.isFile())
    .map((d) => path.relative(images, path.join(d.parentPath, d.name)));
  return files.filter((f) => !named.has(f));
}

/**
 * How long each fault lasts: 3 s by default so the suite stays quick (healing does not depend on the length; health is
 * sampled every second throughout); TESSERA_FAULT_SECONDS=10 reproduces the 10–12 s measurement.
 */
const FAULT_MS = 1000 * Number(process.env.TESSERA_FAULT_SECONDS ?? 3);

/** Holds the fault for `ms` under load, then measures how the service heals. */
async function faultUnderLoad(name: string, fault: { on(): void; off(): void }, ms: number, degrades = true) {
  await load(12);
  await sleep(300);
  const before = await pending();
  fault.on();
  const statuses = new Set<string>();
  const reasons = new Set<string>();
  try {
    for (const end = Date.now() + ms; Date.now() < end;) {
      const h = await getHealth();
      statuses.add(h.status);
      h.reasons.forEach((r) => reasons.add(r.replace(/\d+ ms/, "… ms")));
      await sleep(1000);
    }
  } finally {
    fault.off();
  }
  const restored = Date.now();
  let left = await pending();
  while (left > 0 && Date.now() - restored < 60_000) {
    await sleep(500);
    left = await pending();
  }
  const drainedS = (Date.now() - restored) / 1000;
  const rows = await getDb().generation.findMany({ where: { id: { in: acknowledged } }, select: { status: true } });
  // Removals refused during the fault are retried in the background (lib/db/image-store.ts deleteQuietly).
  let orphans = await orphanFiles();
  for (let i = 0; i < 20 && orphans.length; i++) orphans = (await sleep(500), await orphanFiles());
  const result = {
    fault: name,
    pendingAtFault: before,
    healthDuring: [...statuses],
    reasons: [...reasons],
    pendingAfter: left,
    drainedS,
    acknowledged: acknowledged.length,
    stored: rows.length,
    failed: rows.filter((r) => r.status === "failed").length,
    orphans: orphans.length,
  };
  console.info(JSON.stringify(result, null, 1));
  expect(result).toMatchObject({ pendingAfter: 0, stored: acknowledged.length, orphans: 0 });
  if (degrades) expect(result.healthDuring).toContain("degraded");
  expect((await getHealth()).reasons).toEqual([]);
  return result;
}

const chattr = (target: () => string) => ({
  on: () => execFileSync("chattr", ["+i", target()]),
  off: () => execFileSync("chattr", ["-i", target()]),
});

describe.skipIf(process.getuid?.() !== 0)("faults that heal, under load", () => {
  it("an outside read transaction held under load", async () => {
    let side: Database.Database | undefined;
    // WAL: a reader blocks no writer, so nothing degrades (before WAL, this wedged the server for good).
    await faultUnderLoad(
      "read transaction",
      {
        on() {
          side = new Database(file);
          side.exec("BEGIN");
          side.prepare(`SELECT count(*) FROM "Generation"`).get();
        },
        off() {
          side?.exec("ROLLBACK");
          side?.close();
        },
      },
      FAULT_MS + 2000,
      false,
    );
  }, 150_000);

  it(
    "the WAL file refuses writes for a while",
    () =>
      faultUnderLoad(
        "WAL file",
        chattr(() => `${file}-wal`),
        FAULT_MS,
      ),
    150_000,
  );
  it(
    "the database's folder refuses writes for a while",
    () =>
      faultUnderLoad(
        "database folder",
        chattr(() => dir),
        FAULT_MS,
      ),
    150_000,
  );
  it(
    "the image folder refuses writes for a while",
    () =>
      faultUnderLoad(
        "image folder",
        chattr(() => images),
        FAULT_MS,
      ),
    150_000,
  );
});
