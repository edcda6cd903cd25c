// The columns image priming added (Generation.source, Image.codes) through the named queries, on SQLite and, when
// TESSERA_TEST_PG_URL names a scratch database, on PostgreSQL: a primed job keeps its source picture (served on
// its own, never inside the job's JSON), and a finished job's images keep the codes they were decoded from.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useScratchDb } from "../../test/fixtures/scratch-db";
import { createDb, type Db } from "./client";
import { claimNextJob, completeJob, createGeneration, getGeneration, getGenerationSource } from "./generations";
import { codesBytes, codesOf, imageCodesOf } from "./images";
import { migrate } from "./migrate";

const root = process.cwd();
const png = (n: number) => Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, n]);

function exercise(database: () => Db) {
  it("stores a primed job's source and its images' codes; the job's JSON names the source but does not carry it", async () => {
    const db = database();
    const tag = `priming-${Math.random()}`;
    const version = await db.modelVersion.create({ data: { name: tag, kind: "dalle", path: "m", config: {} } });
    const source = png(7);
    const { id } = await createGeneration(db, {
      prompt: tag,
      params: { n: 2, init: "upload", keepRows: 3 },
      seed: 1,
      modelVersionId: version.id,
      clientId: tag,
      source,
    });
    const plain = await createGeneration(db, {
      prompt: tag,
      params: { n: 1 },
      seed: 2,
      modelVersionId: version.id,
      clientId: `${tag}:plain`,
    });
    expect(Buffer.from((await getGenerationSource(db, id))!)).toEqual(source);
    expect(await getGenerationSource(db, plain.id)).toBeNull();
    // The worker's claim carries the source with the row. On a shared PostgreSQL other tests may have left queued
    // jobs: this one is made the oldest, of a client of its own with nothing running and nothing else waiting (the fair
    // order breaks equal turns by backlog, then service, then age), so the claim takes it.
    await db.generation.update({ where: { id }, data: { createdAt: new Date(0) } });
    const claimed = await claimNextJob(db, "w:1", 60_000);
    expect(claimed?.id).toBe(id);
    expect(Buffer.from(claimed!.source!)).toEqual(source);
    const codes = [Int32Array.from({ length: 64 }, (_, i) => i * 1000), Int32Array.from({ length: 64 }, () => 65535)];
    const img = (n: number) => ({ png: png(n), width: 32, height: 32, codes: codes[n] });
    expect(await completeJob(db, id, "w:1", { images: [img(0)], rejected: [img(1)], candidates: 2 }, {}, version.id)).toBe(true);
    expect((await imageCodesOf(db, id)).map((r) => [r.index, Array.from(r.codes!)])).toEqual(codes.map((c, i) => [i, Array.from(c)]));
    const job = await getGeneration(db, id);
    expect(job?.primed).toEqual({ keepRows: 3, from: "upload" });
    expect(job && "source" in job).toBe(false);
    expect((await getGeneration(db, plain.id))?.primed).toBeNull();
    await db.generation.deleteMany({ where: { prompt: tag } });
    await db.modelVersion.delete({ where: { id: version.id } });
  });
}

describe("codes as bytes", () => {
  it("round-trip every code of a 16-bit codebook", () => {
    const codes = Int32Array.from([0, 1, 511, 512, 65535]);
    expect(Array.from(codesOf(codesBytes(codes)))).toEqual(Array.from(codes));
  });
});

describe("SQLite", () => {
  let dir: string;
  let db: Db;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-priming-db-"));
    const url = `file:${path.join(dir, "test.db")}`;
    await migrate(url, root);
    db = createDb(url);
  });
  afterAll(async () => {
    await db?.$disconnect();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  exercise(() => db);
});

describe.runIf(process.env.TESSERA_TEST_PG_URL)("PostgreSQL (TESSERA_TEST_PG_URL)", () => {
  const scratch = useScratchDb("priming", process.env.TESSERA_TEST_PG_URL);
  exercise(() => scratch().db);
});
