// The vector index against its oracle (brute force, lib/db/semantic-search.ts) on a real SQLite file: the same
// generations at start, images landing after the build found by the next search, deleted generations never
// returned, one version's space never mixed with another's; and through its worker thread, with the web thread's
// client not allowed to read the embeddings at all (the scan kept off the event loop).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createDb, type Db } from "../db/client";
import { migrate } from "../db/migrate";
import { listImageEmbeddings, nearestGenerations } from "../db/semantic-search";
import { addGenerations, clusteredEmbeddings } from "../db/embedding-fixture";
import { IndexKeeper } from "./index-keeper";
import { moreLikeThis } from "./semantic";
import { VectorSearch } from "./vector-search";

const DIM = 32;
let dir: string;
let url: string;
let db: Db;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-vector-"));
  url = `file:${path.join(dir, "t.db")}`;
  await migrate(url);
  db = createDb(url);
  for (const id of ["va", "vb"]) await db.modelVersion.create({ data: { id, name: id, kind: "dalle", path: id, config: {} } });
  await addGenerations(db, { modelVersionId: "va", prefix: "a", generations: 600, perGeneration: 2, dim: DIM, seed: 1 });
  await addGenerations(db, { modelVersionId: "vb", prefix: "b", generations: 100, perGeneration: 1, dim: DIM, seed: 2 });
}, 60_000);

afterAll(async () => {
  await db.$disconnect();
  fs.rmSync(dir, { recursive: true, force: true });
});

const queries = clusteredEmbeddings(20, DIM, 30, 9);
const oracle = async (versionId: string, q: Float32Array, k: number, exclude?: string) =>
  nearestGenerations(await listImageEmbeddings(db, versionId), q, k, exclude);
const ids = (ns: { generationId: string }[]) => ns.map((n) => n.generationId);

describe("IndexKeeper", () => {
  it("answers as brute force does, per version", async () => {
    const keeper = new IndexKeeper(db, { pollMs: 0 });
    await keeper.ready;
    expect(keeper.state()).toMatchObject({ images: 1300, versions: 2, built: true });
    let hits = 0;
    for (const q of queries) {
      const got = await keeper.search("va", q, 10);
      const want = await oracle("va", q, 10);
      hits += ids(got).filter((g) => ids(want).includes(g)).length;
      got.forEach((n) =>
        expect(n.similarity).toBeCloseTo(want.find((w) => w.generationId === n.generationId)?.similarity ?? n.similarity, 5),
      );
    }
    expect(hits / (queries.length * 10)).toBeGreaterThanOrEqual(0.95);
    expect((await keeper.search("vb", queries[0], 5)).every((n) => n.generationId.startsWith("b"))).toBe(true);
    expect(await keeper.search("vb", new Float32Array(DIM + 1), 5)).toEqual([]); // another CLIP's width
    keeper.stop();
  });

  it("finds images that land after the build, and never returns a deleted generation", async () => {
    const keeper = new IndexKeeper(db, { pollMs: 50 });
    await keeper.ready;
    const [late] = await addGenerations(db, { modelVersionId: "va", prefix: "late", generations: 1, perGeneration: 1, dim: DIM, seed: 3 });
    const own = (await listImageEmbeddings(db, "va")).find((i) => i.generationId === late)!.embedding;
    // The periodic catch-up brings it in (the wait is a bound, not a timing: a plant that never catches up fails).
    await vi.waitFor(async () => expect((await keeper.search("va", own, 1))[0]?.generationId).toBe(late), {
      timeout: 10_000,
      interval: 50,
    });
    await db.generation.delete({ where: { id: late } });
    const after = await keeper.search("va", own, 10);
    expect(ids(after)).not.toContain(late);
    expect(ids(after)).toEqual(ids(await oracle("va", own, 10)));
    keeper.stop();
  });
});

describe("VectorSearch (the worker thread)", () => {
  it("serves more like this without the web thread's client reading any embedding", async () => {
    const vs = new VectorSearch(url, { pollMs: 0 });
    try {
      // The web thread's client may not touch images at all: the thread reads the embeddings; a scan here fails.
      const guarded = new Proxy(db, {
        get: (t, p) =>
          p === "image"
            ? new Proxy({}, { get: () => () => Promise.reject(new Error("images read on the web thread")) })
            : Reflect.get(t, p),
      });
      const got = await moreLikeThis(guarded, "a7", 8, vs);
      const own = (await listImageEmbeddings(db, "va")).find((i) => i.imageId === "a7i0")!.embedding;
      const want = await oracle("va", own, 8, "a7");
      expect(ids(got).filter((g) => ids(want).includes(g)).length).toBeGreaterThanOrEqual(7);
      expect(ids(got)).not.toContain("a7");
      expect((await vs.state()).images).toBeGreaterThan(0);
    } finally {
      await vs.close();
    }
  }, 60_000);
});
