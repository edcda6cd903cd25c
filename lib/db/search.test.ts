// Gallery search on real databases (SQLite always; PostgreSQL when TESSERA_TEST_PG_URL is set): literal matching
// (LIKE wildcards and FTS syntax are only characters), index kept in step with inserts, edits and deletes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useScratchDb } from "../../test/fixtures/scratch-db";
import type { Db } from "./client";
import { listGallery } from "./gallery";
import { escapeLike, ftsPhrase, searchFinishedGenerations } from "./search";

const PROMPTS = [
  "100% cotton heart",
  "snake_case cat",
  "plain red heart",
  'a "quoted" star',
  "back\\slash moon",
  "Grinning Face, noto",
  "NEAR heart OR cat*",
];

function exerciseSearch(getDb: () => Db) {
  const tag = `t${Date.now() % 1e6}`;
  const find = async (q: string) => {
    const { ids, total } = await searchFinishedGenerations(getDb(), { q, skip: 0, take: 50 });
    const rows = await getDb().generation.findMany({ where: { id: { in: ids }, prompt: { endsWith: tag } }, select: { prompt: true } });
    expect(total).toBeGreaterThanOrEqual(rows.length);
    return rows.map((r) => r.prompt.slice(0, -tag.length - 1)).sort();
  };

  beforeAll(async () => {
    const db = getDb();
    await db.generation.createMany({ data: PROMPTS.map((p, i) => ({ prompt: `${p} ${tag}`, params: {}, seed: i, status: "done" })) });
    await db.generation.create({ data: { prompt: `queued heart ${tag}`, params: {}, seed: 9, status: "queued" } });
    // A job that finishes enters the index; one that fails never does.
    const late = await db.generation.create({ data: { prompt: `late heart ${tag}`, params: {}, seed: 10, status: "running" } });
    await db.generation.update({ where: { id: late.id }, data: { status: "done" } });
    const failed = await db.generation.create({ data: { prompt: `failed heart ${tag}`, params: {}, seed: 11, status: "running" } });
    await db.generation.update({ where: { id: failed.id }, data: { status: "failed" } });
  });
  // The PostgreSQL database is shared by the serial test files: a queued row left behind would be the next
  // file's first claim (lib/db/db.test.ts claims the queue's head).
  afterAll(async () => {
    await getDb().generation.deleteMany({ where: { prompt: { endsWith: tag } } });
  });

  it("matches % _ \\ and quotes literally, never as wildcards or syntax", async () => {
    expect(await find("%")).toEqual(["100% cotton heart"]);
    expect(await find("_")).toEqual(["snake_case cat"]);
    expect(await find("0% c")).toEqual(["100% cotton heart"]);
    expect(await find("e_c")).toEqual(["snake_case cat"]);
    expect(await find('"quoted"')).toEqual(['a "quoted" star']);
    expect(await find("k\\s")).toEqual(["back\\slash moon"]);
    expect(await find("cat*")).toEqual(["NEAR heart OR cat*"]);
    for (const q of ['"', "'", "(", ")", "*", "^", "NEAR(", "a OR", "-", ":", "\\", "%%%", "___"])
      await expect(find(q)).resolves.toBeInstanceOf(Array);
  });

  it("finds substrings case-insensitively among finished generations only", async () => {
    expect(await find("heart")).toEqual(["100% cotton heart", "NEAR heart OR cat*", "late heart", "plain red heart"]);
    expect(await find("grinning face")).toEqual(["Grinning Face, noto"]);
    expect(await find("nn")).toEqual(["Grinning Face, noto"]);
    expect(await find("no prompt says this")).toEqual([]);
  });

  it("follows edits and deletes, and pages through the gallery newest first", async () => {
    const db = getDb();
    const row = await db.generation.findFirstOrThrow({ where: { prompt: `plain red heart ${tag}` } });
    await db.generation.update({ where: { id: row.id }, data: { prompt: `plain blue moon ${tag}` } });
    expect(await find("red heart")).toEqual([]);
    expect(await find("blue moon")).toEqual(["plain blue moon"]);
    await db.generation.delete({ where: { id: row.id } });
    expect(await find("blue moon")).toEqual([]);
    const page = await listGallery(db, { q: tag, page: 1, pageSize: 2, model: "" });
    expect(page.total).toBe(PROMPTS.length);
    expect(page.items).toHaveLength(2);
    expect(page.items[0].prompt).toBe(`late heart ${tag}`);
    expect(page.pages).toBe(Math.ceil(PROMPTS.length / 2));
    expect(page.capped).toBe(false);
    // Counting stops at the cap: a common word costs no more than a rare one.
    for (const q of [tag, "he"]) {
      const capped = await searchFinishedGenerations(db, { q, skip: 0, take: 2, countCap: 2 });
      expect(capped).toMatchObject({ total: 2, capped: true });
      expect(capped.ids).toHaveLength(2);
    }
  });
}

describe("search helpers", () => {
  it("escape LIKE's wildcards and FTS quotes", () => {
    expect(escapeLike("100%_a\\b")).toBe("100\\%\\_a\\\\b");
    expect(ftsPhrase('say "hi"')).toBe('"say ""hi"""');
  });
});

describe("search on SQLite (FTS5 trigram)", () => {
  const scratch = useScratchDb("search");
  exerciseSearch(() => scratch().db);

  it("uses the FTS index, not a scan of the generations", async () => {
    const plan = await scratch().db.$queryRawUnsafe<{ detail: string }[]>(
      `EXPLAIN QUERY PLAN SELECT s.id FROM "GenerationSearch" s WHERE "GenerationSearch" MATCH '"heart"' ORDER BY s.rowid DESC LIMIT 24`,
    );
    expect(plan.map((p) => p.detail).join(" | ")).toMatch(/VIRTUAL TABLE INDEX/);
    expect(plan.map((p) => p.detail).join(" | ")).not.toMatch(/Generation/);
  });
});

describe.runIf(process.env.TESSERA_TEST_PG_URL)("search on PostgreSQL (pg_trgm)", () => {
  const scratch = useScratchDb("search", process.env.TESSERA_TEST_PG_URL);
  exerciseSearch(() => scratch().db);
});
