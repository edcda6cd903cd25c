// The DB layer against real databases: a fresh SQLite file per test run (always), and PostgreSQL when
// TESSERA_TEST_PG_URL names a scratch database (the migrations are then applied to it for real).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useScratchDb } from "../../test/fixtures/scratch-db";
import { createDb, pingDb, type Db } from "./client";
import { claimMoreJobs, claimNextJob } from "./generations";
import { listMigrations, migrate } from "./migrate";
import { parseDatabaseUrl } from "./url";

const root = process.cwd();

function exerciseModels(getDb: () => Db) {
  it("stores a model version, a generation and its PNG bytes, and reads them back", async () => {
    const db = getDb();
    const version = await db.modelVersion.create({
      data: { name: `v-${Date.now()}`, kind: "dalle", path: "models/x", config: { nLayer: 4, nEmbd: 256 }, active: true },
    });
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 255]);
    const gen = await db.generation.create({
      data: {
        prompt: "grinning face, noto",
        params: { n: 2, guidance: 3, temperature: 1 },
        seed: 42,
        modelVersionId: version.id,
        images: { create: [{ index: 0, png, width: 32, height: 32 }] },
      },
      include: { images: true },
    });
    expect(gen.status).toBe("queued");
    expect(gen.progress).toBe(0);

    const back = await db.generation.findUniqueOrThrow({ where: { id: gen.id }, include: { images: true, modelVersion: true } });
    expect(back.params).toEqual({ n: 2, guidance: 3, temperature: 1 });
    expect(back.modelVersion?.config).toEqual({ nLayer: 4, nEmbd: 256 });
    expect(Buffer.from(back.images[0].png!)).toEqual(png);

    // (generationId, index) is unique: a job never gets two pictures in one slot.
    await expect(db.image.create({ data: { generationId: gen.id, index: 0, png, width: 32, height: 32 } })).rejects.toThrow();

    // Deleting a generation deletes its images.
    await db.generation.delete({ where: { id: gen.id } });
    expect(await db.image.count({ where: { generationId: gen.id } })).toBe(0);
  });

  it("answers a ping", async () => {
    expect(await pingDb(getDb())).toBeGreaterThanOrEqual(0);
  });
}

function exerciseBatchClaims(getDb: () => Db) {
  it("claims more queued jobs for one model version (and unversioned ones while it is active) that fit, each under its own lease", async () => {
    const db = getDb();
    const tag = `b-${Date.now()}`;
    // Earlier tests may have left versions marked active: this one must be the active one, and the newest.
    await db.modelVersion.updateMany({ data: { active: false } });
    const active = await db.modelVersion.create({ data: { name: `${tag}-active`, kind: "dalle", path: "m/a", config: {}, active: true } });
    const other = await db.modelVersion.create({ data: { name: `${tag}-other`, kind: "dalle", path: "m/o", config: {} } });
    const t0 = Date.now() - 60_000;
    const job = (i: number, n: number, modelVersionId: string | null) =>
      db.generation.create({
        // A client of its own: the claims' fair order (./job-claims.ts) puts other clients' jobs between its jobs.
        data: { prompt: `${tag} ${i}`, params: { n }, seed: i, modelVersionId, clientId: tag, createdAt: new Date(t0 + i * 1000) },
      });
    const head = await job(0, 2, null);
    const big = await job(1, 5, active.id); // does not fit in 4 more: passed over, heads the next batch
    const same = await job(2, 1, active.id);
    const foreign = await job(3, 1, other.id); // another model: never mixed in
    const unversioned = await job(4, 2, null);
    const late = await job(5, 1, null); // fits no more
    const sizeOf = (p: unknown) => (p as { n: number }).n;

    expect((await claimNextJob(db, "w:1:a", 60_000))?.id).toBe(head.id);
    const more = await claimMoreJobs(db, "w:1:a", 60_000, { versionId: active.id, room: 3, sizeOf });
    expect(more.map((j) => j.id)).toEqual([same.id, unversioned.id]);
    const rows = await db.generation.findMany({ where: { id: { in: more.map((j) => j.id) } } });
    for (const r of rows) {
      expect(r).toMatchObject({ status: "running", workerId: "w:1:a", attempts: 1, progress: 0 });
      expect(r.leaseUntil!.getTime()).toBeGreaterThan(Date.now() + 50_000);
    }
    // Already claimed jobs are never claimed again; a version that is not active takes no unversioned job.
    expect((await claimMoreJobs(db, "w:2:b", 60_000, { versionId: other.id, room: 16, sizeOf })).map((j) => j.id)).toEqual([foreign.id]);
    expect(await claimMoreJobs(db, "w:2:b", 60_000, { versionId: active.id, room: 0, sizeOf })).toEqual([]);
    // Two workers claiming from the same queue at once never share a job.
    const [x, y] = await Promise.all(
      ["w:3:c", "w:4:d"].map((w) => claimMoreJobs(db, w, 60_000, { versionId: active.id, room: 16, sizeOf })),
    );
    expect([...x, ...y].map((j) => j.id).sort()).toEqual([big.id, late.id].sort());
    await db.generation.deleteMany({ where: { prompt: { startsWith: tag } } });
    await db.modelVersion.deleteMany({ where: { name: { startsWith: tag } } });
  });
}

describe("SQLite (embedded default)", () => {
  let dir: string;
  let url: string;
  let db: Db;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-db-"));
    url = `file:${path.join(dir, "nested", "test.db")}`;
    const result = await migrate(url, root);
    expect(result.applied).toEqual(listMigrations(path.join(root, "prisma", "migrations")));
    db = createDb(url);
  });
  afterAll(async () => {
    await db?.$disconnect();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  exerciseModels(() => db);
  exerciseBatchClaims(() => db);

  it("applies nothing the second time", async () => {
    expect((await migrate(url, root)).applied).toEqual([]);
  });
});

describe.runIf(process.env.TESSERA_TEST_PG_URL)("PostgreSQL (TESSERA_TEST_PG_URL)", () => {
  const scratch = useScratchDb("db", process.env.TESSERA_TEST_PG_URL);
  exerciseModels(() => scratch().db);
  exerciseBatchClaims(() => scratch().db);
  it("applies nothing the second time", async () => {
    expect((await migrate(scratch().url, root)).applied).toEqual([]);
  });
});

describe("DATABASE_URL parsing", () => {
  it("defaults to the SQLite file under data/", () => {
    const t = parseDatabaseUrl(undefined, "/srv/tessera");
    expect(t).toEqual({ provider: "sqlite", url: "file:/srv/tessera/data/tessera.db", file: "/srv/tessera/data/tessera.db" });
  });
  it("selects PostgreSQL for postgres:// and postgresql://", () => {
    expect(parseDatabaseUrl("postgresql://u:p@h/db").provider).toBe("postgresql");
    expect(parseDatabaseUrl("postgres://u:p@h/db").provider).toBe("postgresql");
  });
  it("rejects anything else with a message that hides the password", () => {
    expect(() => parseDatabaseUrl("mysql://root:secret@h/db")).toThrow(/must start with "file:".*mysql:\/\/root:\*\*\*@h\/db/);
    expect(() => parseDatabaseUrl("file:")).toThrow(/names no file/);
  });
});
