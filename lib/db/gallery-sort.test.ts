// The gallery's sort by typicality on real databases (SQLite always; PostgreSQL when TESSERA_TEST_PG_URL is set):
// generations in their cover's (first kept image's) bits/dim order, lowest or highest first, unscored ones last and
// newest first among them — in the plain listing, through both kinds of text search, across pages — with each
// shown cover's bits/dim; "new" keeps newest first.
import { beforeAll, describe, expect, it } from "vitest";
import { useScratchDb } from "../../test/fixtures/scratch-db";
import type { Db } from "./client";
import { listGallery, type GalleryOrder } from "./gallery";

const png = Buffer.from([0x89, 0x50, 0x4e, 0x47]);

function exerciseSort(getDb: () => Db) {
  const tag = `s${Date.now() % 1e6}`;
  // Covers' bits/dim by name, created in this order (the last is the newest). A rejected candidate and a kept
  // second image must not count: only the cover (index 0) does.
  const made: [name: string, cover: number | null][] = [
    ["mid", 3.1],
    ["old-unscored", null],
    ["best", 2.5],
    ["worst", 5.0],
    ["new-unscored", null],
  ];
  const ids = new Map<string, string>();
  let model: string;

  beforeAll(async () => {
    const db = getDb();
    model = (await db.modelVersion.create({ data: { name: `sort-${tag}`, kind: "dalle", path: "x", config: {} } })).id;
    for (const [i, [name, cover]] of made.entries()) {
      const g = await db.generation.create({
        data: {
          prompt: `${name} cat ${tag}`,
          params: {},
          seed: i,
          status: "done",
          modelVersionId: model,
          createdAt: new Date(Date.UTC(2026, 0, 1, 0, i)),
          images: {
            create: [
              { index: 0, png, width: 32, height: 32, bitsPerDim: cover, atypical: cover === null ? null : cover > 4 },
              { index: 1, png, width: 32, height: 32, bitsPerDim: 0.1 },
              { index: 2, png, width: 32, height: 32, bitsPerDim: 9.9, rejected: true },
            ],
          },
        },
      });
      ids.set(g.id, name);
    }
  });

  const names = async (sort: GalleryOrder, q = "", page = 1, pageSize = 10) => {
    const r = await listGallery(getDb(), { page, q, model, pageSize, sort });
    return { names: r.items.map((g) => ids.get(g.id)), bitsPerDim: r.bitsPerDim, ids: r.items.map((g) => g.id), total: r.total };
  };

  it("lists the most typical first (lowest cover bits/dim), unscored ones last, newest first among them", async () => {
    expect((await names("typical")).names).toEqual(["best", "mid", "worst", "new-unscored", "old-unscored"]);
    expect((await names("atypical")).names).toEqual(["worst", "mid", "best", "new-unscored", "old-unscored"]);
    expect((await names("new")).names).toEqual(["new-unscored", "worst", "best", "old-unscored", "mid"]);
  });

  it("pages through the typicality order", async () => {
    const first = await names("typical", "", 1, 2);
    const second = await names("typical", "", 2, 2);
    expect([...first.names, ...second.names]).toEqual(["best", "mid", "worst", "new-unscored"]);
    expect(first.total).toBe(5);
  });

  it("sorts text search results the same way (trigram search and the short-query scan)", async () => {
    for (const q of [tag, "ca"]) {
      expect((await names("typical", q)).names).toEqual(["best", "mid", "worst", "new-unscored", "old-unscored"]);
      expect((await names("atypical", q)).names).toEqual(["worst", "mid", "best", "new-unscored", "old-unscored"]);
    }
    expect((await names("new", tag)).names).toEqual(["new-unscored", "worst", "best", "old-unscored", "mid"]);
  });

  it("gives each shown cover's bits/dim when sorting by it, none otherwise", async () => {
    const r = await names("typical");
    expect(r.ids.map((id) => r.bitsPerDim[id])).toEqual([2.5, 3.1, 5.0, undefined, undefined]);
    expect((await names("new")).bitsPerDim).toEqual({});
  });
}

describe("gallery sort on SQLite", () => {
  const scratch = useScratchDb("gallery-sort");
  exerciseSort(() => scratch().db);
});

describe.runIf(process.env.TESSERA_TEST_PG_URL)("gallery sort on PostgreSQL", () => {
  const scratch = useScratchDb("gallery-sort", process.env.TESSERA_TEST_PG_URL);
  exerciseSort(() => scratch().db);
});
