// The gallery's query string, parsed leniently: a bad page number or an over-long search falls back to a default
// instead of failing the page. A search is by text (a literal substring of the prompt) or, with `by=meaning`, by
// meaning (a CLIP: the query's embedding against the stored image embeddings, lib/generate/semantic.ts) — the active
// model's, or the filtered model's. The model filter takes a version's id (the form's) or its name (`?model=shapes`).
// `sort=typical|atypical` orders by the cover's bits/dim under the model's flow (lib/generate/typicality.ts).
import { z } from "zod";
import type { Db } from "./db/client";
import { galleryItems, listGallery as listGalleryRows } from "./db/gallery";
import { findModelVersionByIdOrName, listModelNames } from "./db/versions";
import { publicMessage } from "./errors";
import { searchByMeaning } from "./generate/semantic";
import { generationService } from "./generate/service";

export const GalleryQuery = z.object({
  page: z.coerce.number().int().min(1).max(100_000).catch(1).default(1),
  // Control characters and lone surrogates cannot be in a prompt (the API refuses them), and PostgreSQL rejects NUL.
  q: z
    .string()
    .transform((s) => s.replace(/[\u0000-\u001f\u007f]|\p{Cs}/gu, "").trim())
    .pipe(z.string().max(200))
    .catch("")
    .default(""),
  model: z
    .string()
    .transform((s) => s.replace(/[\u0000-\u001f\u007f]|\p{Cs}/gu, "").trim())
    .pipe(z.string().max(100))
    .catch("")
    .default(""),
  by: z.enum(["text", "meaning"]).catch("text").default("text"),
  /** Newest first, or by typicality (the cover's bits/dim under the model's flow): "typical" lowest first, "atypical" highest. */
  sort: z.enum(["new", "typical", "atypical"]).catch("new").default("new"),
});
export type GalleryQuery = z.infer<typeof GalleryQuery>;

export const PAGE_SIZE = 24;

/** A search by meaning ranks every generation; it shows the closest this many. */
export const MEANING_TOP_K = 48;

export interface MeaningInfo {
  /** False when the search fell back to text: the reason says why (no CLIP in the model searched). */
  on: boolean;
  reason?: string;
  /** Cosine similarity of each shown generation's closest image with the query. */
  similarity: Record<string, number>;
}

/** The gallery page; `model` in the result is the filter as a version id (what the form's select holds). */
export async function listGallery(db: Db, asked: GalleryQuery) {
  // A name becomes its version's id; an unknown filter stays as given and matches nothing.
  const filtered = asked.model ? await findModelVersionByIdOrName(db, asked.model) : null;
  const query = { ...asked, model: filtered?.id ?? asked.model };
  if (query.by !== "meaning" || !query.q || (query.model && !filtered))
    return { ...(await listGalleryRows(db, { ...query, pageSize: PAGE_SIZE })), meaning: null, model: query.model };
  // A search by meaning is ranked by similarity: the sort does not apply.
  const found = await generationService()
    .then((s) => searchByMeaning(db, s.registry, query.q, MEANING_TOP_K, filtered?.id))
    .catch((err: unknown) => ({ available: false as const, reason: publicMessage(err) }));
  if (!found.available) {
    const text = await listGalleryRows(db, { ...query, pageSize: PAGE_SIZE });
    return { ...text, meaning: { on: false, reason: found.reason, similarity: {} } satisfies MeaningInfo, model: query.model };
  }
  // The results are that version's generations only: its CLIP made their embeddings.
  const results = found.results;
  const shown = results.slice((query.page - 1) * PAGE_SIZE, query.page * PAGE_SIZE);
  const rows = await galleryItems(
    db,
    shown.map((r) => r.generationId),
  );
  // The cover is the image that matched, not the generation's first one.
  const cover = new Map(shown.map((r) => [r.generationId, r.imageId]));
  const items = rows.map((g) => ({ ...g, images: [{ id: cover.get(g.id)! }] }));
  const similarity = Object.fromEntries(shown.map((r) => [r.generationId, r.similarity]));
  return {
    total: results.length,
    capped: false,
    pages: Math.max(1, Math.ceil(results.length / PAGE_SIZE)),
    items,
    models: await listModelNames(db),
    bitsPerDim: {} as Record<string, number>,
    meaning: { on: true, similarity } satisfies MeaningInfo,
    model: query.model,
  };
}
