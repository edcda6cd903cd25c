// The health report tells the truth: "degraded", with the reason, when the database takes reads but not writes,
// when a folder writes go to refuses them, or when the active model failed to load — and its messages carry no absolute filesystem paths; "loaded" once a
// generation thread has the active model (the service runs one thread here).
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serviceSandbox, stopService } from "../test/fixtures/service";
import { writeTinyModelFolder } from "../test/fixtures/tiny-model";
import { POST as tokenize } from "../app/api/tokenize/route";
import { getDb } from "./db/client";
import { GenerationParams, SAMPLING_FALLBACK, withSamplingDefaults } from "./generate/params";
import { enqueue } from "./generate/queue";
import { generationService } from "./generate/service";
import type { JobEvent } from "./generate/worker";
import { getHealth } from "./health";
import { selectBackend } from "./tensor/backend";

let dir: string;
let file: string;

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  dir = await serviceSandbox("tessera-health-", "no-model-here", { threads: 1 });
  file = path.join(dir, "test.db");
});
afterAll(() => stopService(dir));

describe("health", () => {
  it("is ok with a writable database and no model, and degraded while the database refuses writes", async () => {
    expect(await getHealth()).toMatchObject({ status: "ok", reasons: [], db: { reachable: true, writable: true } });
    const side = new Database(file);
    side.exec("BEGIN EXCLUSIVE");
    try {
      const h = await getHealth();
      expect(h.status).toBe("degraded");
      expect(h.db).toMatchObject({ reachable: true, writable: false });
      expect(h.reasons.join(" ")).toMatch(/does not accept writes/);
    } finally {
      side.exec("ROLLBACK");
      side.close();
    }
    expect((await getHealth()).status).toBe("ok");
  }, 30_000);

  it.skipIf(process.getuid?.() !== 0)(
    "is degraded while the database file, its folder or the image folder refuse writes (chattr +i), ok once restored",
    async () => {
      const images = path.join(dir, "images");
      fs.mkdirSync(images, { recursive: true });
      process.env.IMAGE_STORE = images;
      try {
        expect(await getHealth()).toMatchObject({ status: "ok", folders: [{ writable: true }, { writable: true }] });
        const faults: [string, RegExp][] = [
          // WAL: commits go to the -wal file, so that is the file whose refusal fails them.
          [`${file}-wal`, /the database does not accept writes: .*disk I\/O error/],
          [dir, /the database folder does not accept new files: EPERM/],
          [images, /the image folder does not accept new files: EPERM/],
        ];
        for (const [target, reason] of faults) {
          execFileSync("chattr", ["+i", target]);
          try {
            const h = await getHealth();
            expect(h.status).toBe("degraded");
            expect(h.reasons.join("; ")).toMatch(reason);
            expect(JSON.stringify(h)).not.toContain(dir);
          } finally {
            execFileSync("chattr", ["-i", target]);
          }
          expect((await getHealth()).reasons).toEqual([]);
        }
      } finally {
        delete process.env.IMAGE_STORE;
      }
    },
    60_000,
  );

  it("is degraded when the active model failed to load, and the API says so instead of 'no model is active'", async () => {
    const broken = path.join(dir, "broken-model");
    fs.mkdirSync(broken, { recursive: true });
    fs.writeFileSync(path.join(broken, "manifest.json"), "{ not json");
    await getDb().modelVersion.create({ data: { name: "broken", kind: "dalle", path: broken, config: {}, active: true } });
    const { registry } = await generationService();
    await expect(registry.acquire()).rejects.toThrow();
    const h = await getHealth();
    expect(h.status).toBe("degraded");
    expect(h.model).toMatchObject({ active: "broken", loaded: false, rerank: false });
    expect(h.reasons.join(" ")).toMatch(/the active model broken failed to load/);
    expect(JSON.stringify(h)).not.toContain(dir);
    const res = await tokenize(
      new Request("http://t", { method: "POST", body: JSON.stringify({ prompt: "hi" }), headers: { "Content-Type": "application/json" } }),
    );
    expect(res.status).toBe(503);
    const message = (await res.json()).error.message as string;
    expect(message).toMatch(/the active model broken could not be loaded/);
    expect(message).not.toContain(dir);
  });

  it("says the active model is loaded once the generation thread has loaded it, this thread's registry aside", async () => {
    const db = getDb();
    await writeTinyModelFolder(path.join(dir, "m1"));
    await db.modelVersion.updateMany({ data: { active: false } });
    await db.modelVersion.create({ data: { name: "m1", kind: "dalle", path: path.join(dir, "m1"), config: {}, active: true } });
    const service = await generationService();
    expect(service.threads?.threads).toBe(1);
    const job = await enqueue(db, withSamplingDefaults(GenerationParams.parse({ prompt: "red heart", n: 1 }), SAMPLING_FALLBACK), {
      limit: 10,
      perClientLimit: 10,
      clientId: "h",
      modelVersionId: null,
    });
    const ended = new Promise<JobEvent>((resolve) =>
      service.worker.events.on(job.id, (e: JobEvent) => e.type !== "progress" && resolve(e)),
    );
    service.worker.notify();
    expect(await ended).toEqual({ type: "done" });
    // The main thread never loaded m1: the thread did, and health counts it.
    expect(service.registry.loadedName).not.toBe("m1");
    const h = await getHealth();
    expect(h.model).toEqual({ loaded: true, active: "m1", rerank: false });
    expect(h.status).toBe("ok");
    expect(h.workers.threads).toBe(1);
  }, 120_000);
});
