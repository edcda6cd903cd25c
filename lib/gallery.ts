// Gallery queries: finished generations, newest first, paginated, searchable by prompt and filterable by model.
import { z } from "zod";
import type { Db } from "./db/client";

export const GalleryQuery = z.object({
  page: z.coerce.number().int().min(1).catch(1).default(1),
  q: z
    .string()
    .trim()
    .max(200)
    .catch("")
    .default(""),
  model: z.string().trim().max(100).catch("").default(""),
});
export type GalleryQuery = z.infer<typeof GalleryQuery>;

export const PAGE_SIZE = 24;

export async function listGallery(db: Db, query: GalleryQuery) {
  const where = {
    status: "done",
    ...(query.q ? { prompt: { contains: query.q } } : {}),
    ...(query.model ? { modelVersionId: query.model } : {}),
  };
  const [total, items, models] = await Promise.all([
    db.generation.count({ where }),
    db.generation.findMany({
      where,
      orderBy: { createdAt: "desc" },
      skip: (query.page - 1) * PAGE_SIZE,
      take: PAGE_SIZE,
      select: { id: true, prompt: true, createdAt: true, images: { select: { id: true }, orderBy: { index: "asc" }, take: 1 }, modelVersion: { select: { name: true } } },
    }),
    db.modelVersion.findMany({ select: { id: true, name: true }, orderBy: { createdAt: "desc" } }),
  ]);
  return { total, pages: Math.max(1, Math.ceil(total / PAGE_SIZE)), items, models };
}

export async function getGeneration(db: Db, id: string) {
  return db.generation.findUnique({
    where: { id },
    include: { images: { select: { id: true, index: true, width: true, height: true }, orderBy: { index: "asc" } }, modelVersion: { select: { id: true, name: true } } },
  });
}
