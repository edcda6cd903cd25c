// Named queries of the gallery: finished generations, newest first, paginated, searchable and filterable by model.
import type { Db } from "./client";
import { searchFinishedGenerations } from "./search";
import { listModelNames } from "./versions";

export interface GalleryFilter {
  page: number;
  q: string;
  model: string;
  pageSize: number;
}

const itemSelect = {
  id: true,
  prompt: true,
  createdAt: true,
  // The cover: the first kept image (the best-scored when reranked); rejected candidates never show in the gallery.
  images: { where: { rejected: false }, select: { id: true }, orderBy: { index: "asc" as const }, take: 1 },
  modelVersion: { select: { name: true } },
};

/** Gallery items of these generations, in this order (ids that no longer exist are left out). */
export async function galleryItems(db: Db, ids: string[]) {
  const rows = await db.generation.findMany({ where: { id: { in: ids } }, select: itemSelect });
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id) => byId.get(id)).filter((r) => r !== undefined);
}

export type GalleryItem = Awaited<ReturnType<typeof galleryItems>>[number];

export async function listGallery(db: Db, f: GalleryFilter) {
  const skip = (f.page - 1) * f.pageSize;
  const modelVersionId = f.model || undefined;
  const models = listModelNames(db);
  let total: number;
  let capped = false;
  let items;
  if (f.q) {
    const found = await searchFinishedGenerations(db, { q: f.q, modelVersionId, skip, take: f.pageSize });
    items = await galleryItems(db, found.ids);
    total = found.total;
    capped = found.capped;
  } else {
    const where = { status: "done", ...(modelVersionId ? { modelVersionId } : {}) };
    [total, items] = await Promise.all([
      db.generation.count({ where }),
      db.generation.findMany({ where, orderBy: { createdAt: "desc" }, skip, take: f.pageSize, select: itemSelect }),
    ]);
  }
  return { total, capped, pages: Math.max(1, Math.ceil(total / f.pageSize)), items, models: await models };
}
