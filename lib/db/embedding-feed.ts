// What the vector index (lib/generate/vector-index-thread.ts) reads: every searchable image embedding — a kept
// (not rejected) image of a finished generation with a model version — in pages, once at start; then, on each
// catch-up, those that landed since it last looked; and, for the candidates a search returns, whether they are still
// searchable (a generation deleted since). The database stays the truth; the index is a cache of these rows.
import type { Db } from "./client";
import { embeddingOf } from "./images";

export interface FeedImage {
  imageId: string;
  generationId: string;
  modelVersionId: string;
  createdAt: Date;
  embedding: Float32Array;
}

/** A searchable image: kept, embedded, of a finished generation of a model version (embeddedSince checks that last part in JS). */
const searchableImage = { rejected: false, embedding: { not: null } };
const searchable = { ...searchableImage, generation: { status: "done", modelVersionId: { not: null } } };

const select = {
  id: true,
  generationId: true,
  createdAt: true,
  embedding: true,
  generation: { select: { modelVersionId: true } },
} as const;

type Row = {
  id: string;
  generationId: string;
  createdAt: Date;
  embedding: Uint8Array | null;
  generation: { modelVersionId: string | null };
};

const feedImage = (r: Row): FeedImage => ({
  imageId: r.id,
  generationId: r.generationId,
  modelVersionId: r.generation.modelVersionId!,
  createdAt: r.createdAt,
  embedding: embeddingOf(r.embedding!),
});

/** Searchable images after `afterId` in id order, at most `take`: the index's first build walks them all this way. */
export async function embeddingsAfter(db: Db, afterId: string | null, take: number): Promise<FeedImage[]> {
  const rows = await db.image.findMany({
    where: { ...searchable, ...(afterId === null ? {} : { id: { gt: afterId } }) },
    orderBy: { id: "asc" },
    take,
    select,
  });
  return rows.map(feedImage);
}

/**
 * Ids and times of the searchable images created at or after `since` (Image.createdAt is indexed for this).
 * Two queries, not one join: given the join, SQLite's planner walks every finished generation by its status index
 * and looks up each one's images — about a second at 1M images on the index thread, where better-sqlite3's calls are
 * synchronous, so every search waited behind each catch-up (scripts/bench-vector.ts: p95 1,018 ms at 1M). Recent
 * images by createdAt first, then which of their generations are done.
 */
export async function embeddedSince(db: Db, since: Date): Promise<{ id: string; createdAt: Date }[]> {
  const recent = await db.image.findMany({
    where: { ...searchableImage, createdAt: { gte: since } },
    select: { id: true, createdAt: true, generationId: true },
  });
  const generationIds = [...new Set(recent.map((r) => r.generationId))];
  // By id alone, filtered here as `searchable.generation` says: with the status in the WHERE too, the planner again
  // picks the status index.
  const generations = await inChunks(generationIds, (ids) =>
    db.generation.findMany({ where: { id: { in: ids } }, select: { id: true, status: true, modelVersionId: true } }),
  );
  const doneIds = new Set(generations.filter((g) => g.status === "done" && g.modelVersionId !== null).map((g) => g.id));
  return recent.filter((r) => doneIds.has(r.generationId)).map(({ id, createdAt }) => ({ id, createdAt }));
}

/**
 * `query` over `ids` a slice at a time, the rows concatenated: Prisma refuses an IN list longer than the bound
 * variables it assumes SQLite allows (999; P2029, "query parameter limit … exceeded") rather than splitting it.
 */
async function inChunks<T>(ids: string[], query: (slice: string[]) => Promise<T[]>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < ids.length; i += IN_CHUNK) out.push(...(await query(ids.slice(i, i + IN_CHUNK))));
  return out;
}
const IN_CHUNK = 900;

/** These images' embeddings (the catch-up reads only the rows its index lacks). */
export async function embeddingsOf(db: Db, imageIds: string[]): Promise<FeedImage[]> {
  const rows = await inChunks(imageIds, (ids) => db.image.findMany({ where: { ...searchable, id: { in: ids } }, select }));
  return rows.map(feedImage);
}

/** Which of these images are still searchable (their generation not deleted): a search checks its candidates. */
export async function stillSearchable(db: Db, imageIds: string[]): Promise<Set<string>> {
  const rows = await inChunks(imageIds, (ids) => db.image.findMany({ where: { ...searchable, id: { in: ids } }, select: { id: true } }));
  return new Set(rows.map((r) => r.id));
}
