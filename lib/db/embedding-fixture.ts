// Synthetic galleries for the vector index's tests and scripts/bench-vector.ts (test data; serving never uses it):
// finished generations whose kept images' unit embeddings cluster (as CLIP's do: images of one subject near each
// other), reproducible by seed.
import type { Db } from "./client";
import { mulberry32 } from "../data/rng";
import { embeddingBytes } from "./images";

/** Unit vectors of width `dim` around `clusters` random centres (spread 0.7 per coordinate around N(0,1) ones), one per call. */
export function embeddingStream(dim: number, clusters: number, seed: number): () => Float32Array {
  const rand = mulberry32(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
  const centres = Array.from({ length: clusters }, () => Float32Array.from({ length: dim }, gauss));
  return () => {
    const c = centres[Math.floor(rand() * clusters)];
    const v = Float32Array.from(c, (x) => x + 0.7 * gauss());
    let norm = 0;
    for (const x of v) norm += x * x;
    norm = Math.sqrt(norm);
    return v.map((x) => x / norm);
  };
}

/** `count` vectors of one embeddingStream. */
export function clusteredEmbeddings(count: number, dim: number, clusters: number, seed: number): Float32Array[] {
  const next = embeddingStream(dim, clusters, seed);
  return Array.from({ length: count }, next);
}

/** Adds `generations` finished generations of `modelVersionId`, `perGeneration` kept images each; returns their ids. */
export async function addGenerations(
  db: Db,
  o: { modelVersionId: string; prefix: string; generations: number; perGeneration: number; dim: number; seed: number },
): Promise<string[]> {
  const vectors = clusteredEmbeddings(o.generations * o.perGeneration, o.dim, Math.max(1, Math.floor(o.generations / 20)), o.seed);
  const ids = Array.from({ length: o.generations }, (_, g) => `${o.prefix}${g}`);
  await db.generation.createMany({
    data: ids.map((id) => ({ id, prompt: id, params: {}, seed: 0, status: "done", modelVersionId: o.modelVersionId })),
  });
  await db.image.createMany({
    data: ids.flatMap((id, g) =>
      Array.from({ length: o.perGeneration }, (_, i) => ({
        id: `${id}i${i}`,
        generationId: id,
        index: i,
        width: 1,
        height: 1,
        png: new Uint8Array(0),
        embedding: embeddingBytes(vectors[g * o.perGeneration + i]),
      })),
    ),
  });
  return ids;
}
