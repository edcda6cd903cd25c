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

const searchable = { rejected: false, embedding: { not: null }, generation: { status: "done", modelVersionId: { not: null } } };

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

/** Ids and times of the searchable images created at or after `since` (Image.createdAt is indexed for this). */
export async function embeddedSince(db: Db, since: Date): Promise<{ id: string; createdAt: Date }[]> {
  return db.image.findMany({ where: { ...searchable, createdAt: { gte: since } }, select: { id: true, createdAt: true } });
}

/** These images' embeddings (the catch-up reads only the rows its index lacks). */
export async function embeddingsOf(db: Db, imageIds: string[]): Promise<FeedImage[]> {
  if (!imageIds.length) return [];
  const rows = await db.image.findMany({ where: { ...searchable, id: { in: imageIds } }, select });
  return rows.map(feedImage);
}

/** Which of these images are still searchable (their generation not deleted): a search checks its candidates. */
export async function stillSearchable(db: Db, imageIds: string[]): Promise<Set<string>> {
  if (!imageIds.length) return new Set();
  const rows = await db.image.findMany({ where: { ...searchable, id: { in: imageIds } }, select: { id: true } });
  return new Set(rows.map((r) => r.id));
}
