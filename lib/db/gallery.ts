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
  images: { select: { id: true }, orderBy: { index: "asc" as const }, take: 1 },
  modelVersion: { select: { name: true } },
};

export async function listGallery(db: Db, f: GalleryFilter) {
  const skip = (f.page - 1) * f.pageSize;
  const modelVersionId = f.model || undefined;
  const models = listModelNames(db);
  let total: number;
  let capped = false;
  let items;
  if (f.q) {
    const found = await searchFinishedGenerations(db, { q: f.q, modelVersionId, skip, take: f.pageSize });
    const rows = await db.generation.findMany({ where: { id: { in: found.ids } }, select: itemSelect });
    const byId = new Map(rows.map((r) => [r.id, r]));
    items = found.ids.map((id) => byId.get(id)).filter((r) => r !== undefined);
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
