// The DB layer against real databases: a fresh SQLite file per test run (always), and PostgreSQL when
// TESSERA_TEST_PG_URL names a scratch database (the migrations are then applied to it for real).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, pingDb, type Db } from "./client";
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
    expect(Buffer.from(back.images[0].png)).toEqual(png);

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

  it("applies nothing the second time", async () => {
    expect((await migrate(url, root)).applied).toEqual([]);
  });
});

describe.runIf(process.env.TESSERA_TEST_PG_URL)("PostgreSQL (TESSERA_TEST_PG_URL)", () => {
  const url = process.env.TESSERA_TEST_PG_URL as string;
  let db: Db;
  beforeAll(async () => {
    await migrate(url, root);
    db = createDb(url);
  });
  afterAll(async () => {
    await db?.$disconnect();
  });
  exerciseModels(() => db);
  it("applies nothing the second time", async () => {
    expect((await migrate(url, root)).applied).toEqual([]);
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
