// Search by meaning with a model's CLIP (the active one's, or that of the version the gallery is filtered by): a query
// text's embedding against the image embeddings stored at generation time (lib/db/semantic-search.ts), and "more
// like this" (one generation's image against the others). Only that version's generations are searched by text:
// its CLIP made their embeddings. The ranking runs in the vector index's worker thread (./vector-search.ts), never
// on the web thread; what is left here is the query's CLIP text embedding (one short text, on the registry's model).
import * as tf from "@tensorflow/tfjs";
import type { Db } from "../db/client";
import type { Neighbour } from "../db/semantic-search";
import type { ModelRegistry } from "./registry";
import { vectorSearchFor, type VectorSearch } from "./vector-search";

export type MeaningSearch =
  | { available: true; modelVersionId: string; results: Neighbour[] }
  /** The model has no CLIP (or none is active): nothing to embed the query with. */
  | { available: false; reason: string };

/**
 * Generations of one version (`versionId`, else the active one) whose images are closest in meaning to `q`, best
 * first, at most `topK`.
 */
export async function searchByMeaning(
  db: Db,
  registry: ModelRegistry,
  q: string,
  topK: number,
  versionId?: string,
  index: VectorSearch = vectorSearchFor(db),
): Promise<MeaningSearch> {
  const lease = await registry.acquire(versionId);
  try {
    const clip = lease.bundle.clip;
    if (!clip) return { available: false, reason: `the ${versionId ? "" : "active "}model ${lease.name} has no CLIP` };
    const c = clip.model.config;
    const ids = tf.tensor2d([clip.text.encode(q, c.textLen).ids], [1, c.textLen], "int32");
    const text = clip.model.encodeTexts(ids); // [1, D]
    let query: Float32Array;
    try {
      query = Float32Array.from(await text.data());
    } finally {
      tf.dispose([ids, text]);
    }
    return { available: true, modelVersionId: lease.versionId, results: await index.search(lease.versionId, query, topK) };
  } finally {
    lease.release();
  }
}

/** Other generations of the same model version whose images look most like this one's best image (no model needed). */
export async function moreLikeThis(
  db: Db,
  generationId: string,
  topK: number,
  index: VectorSearch = vectorSearchFor(db),
): Promise<Neighbour[]> {
  return index.moreLikeThis(generationId, topK); // the thread reads the generation's embedding itself
}
