// Search by meaning: CLIP embeddings stored with every kept image at generation time, ranked against a query
// embedding (the query text's, for gallery search; an image's own, for "more like this").
// Serving ranks with an HNSW index kept in a worker thread (lib/generate/vector-index.ts, fed by ./embedding-feed.ts);
// the brute-force scan here (every embedding of the version read and dotted with the query) is its oracle in tests
// and in scripts/bench-vector.ts, and must never run on the web thread: it costs ~20 ms per 1,000 images.
// Only one model version's images are ranked together: embeddings of different CLIPs live in different spaces.
import type { Db } from "./client";
import { embeddingOf } from "./images";

export interface EmbeddedImage {
  imageId: string;
  generationId: string;
  embedding: Float32Array;
}

/** Every kept (not rejected) image of a finished generation of one model version that has a CLIP embedding. */
export async function listImageEmbeddings(db: Db, modelVersionId: string): Promise<EmbeddedImage[]> {
  const rows = await db.image.findMany({
    where: { rejected: false, embedding: { not: null }, generation: { status: "done", modelVersionId } },
    select: { id: true, generationId: true, embedding: true },
  });
  return rows.map((r) => ({ imageId: r.id, generationId: r.generationId, embedding: embeddingOf(r.embedding!) }));
}

/** The embedding of a generation's best kept image (index 0) and its model version, or null when it has none. */
export async function findGenerationEmbedding(db: Db, generationId: string) {
  const img = await db.image.findFirst({
    where: { generationId, rejected: false, embedding: { not: null }, generation: { status: "done" } },
    orderBy: { index: "asc" },
    select: { embedding: true, generation: { select: { modelVersionId: true } } },
  });
  if (!img?.generation.modelVersionId) return null;
  return { embedding: embeddingOf(img.embedding!), modelVersionId: img.generation.modelVersionId };
}

export interface Neighbour {
  generationId: string;
  /** The image of that generation closest to the query. */
  imageId: string;
  /** Cosine similarity (both sides are unit vectors). */
  similarity: number;
}

/**
 * Generations ranked by their closest image to `query`, most similar first (ties: by id, so pages are stable), at
 * most `topK`, leaving out `exclude`.
 */
export function nearestGenerations(images: EmbeddedImage[], query: Float32Array, topK: number, exclude?: string): Neighbour[] {
  const best = new Map<string, Neighbour>();
  for (const img of images) {
    if (img.generationId === exclude) continue;
    if (img.embedding.length !== query.length) continue; // another CLIP's width: not comparable
    let dot = 0;
    for (let i = 0; i < query.length; i++) dot += query[i] * img.embedding[i];
    const seen = best.get(img.generationId);
    if (!seen || dot > seen.similarity)
      best.set(img.generationId, { generationId: img.generationId, imageId: img.imageId, similarity: dot });
  }
  return [...best.values()]
    .sort((a, b) => b.similarity - a.similarity || (a.generationId < b.generationId ? -1 : 1))
    .slice(0, Math.max(0, topK));
}
