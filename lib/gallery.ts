// The gallery's query string, parsed leniently: a bad page number or an over-long search falls back to a default
// instead of failing the page.
import { z } from "zod";
import type { Db } from "./db/client";
import { listGallery as listGalleryRows } from "./db/gallery";

export const GalleryQuery = z.object({
  page: z.coerce.number().int().min(1).max(100_000).catch(1).default(1),
  // Control characters and lone surrogates cannot be in a prompt (the API refuses them), and PostgreSQL rejects NUL.
  q: z
    .string()
    .transform((s) => s.replace(/[\u0000-\u001f\u007f]|\p{Cs}/gu, "").trim())
    .pipe(z.string().max(200))
    .catch("")
    .default(""),
  model: z.string().trim().max(100).catch("").default(""),
});
export type GalleryQuery = z.infer<typeof GalleryQuery>;

export const PAGE_SIZE = 24;

export function listGallery(db: Db, query: GalleryQuery) {
  return listGalleryRows(db, { ...query, pageSize: PAGE_SIZE });
}
