// Named queries of the gallery: finished generations, newest first or by their cover's typicality (bits/dim under
// the model's flow), paginated, searchable and filterable by model.
import type { Db } from "./client";
import { searchFinishedGenerations, type GalleryOrder } from "./search";
import { listModelNames } from "./versions";

export type { GalleryOrder } from "./search";

export interface GalleryFilter {
  page: number;
  q: string;
  model: string;
  pageSize: number;
  /** Default "new"; "typical" / "atypical": the cover's bits/dim lowest / highest first, unscored ones last. */
  sort?: GalleryOrder;
}

const itemSelect = {
  id: true,
  prompt: true,
  createdAt: true,
  // The cover: the first kept image (the best-scored when reranked); rejected candidates never show in the gallery.
  images: { where: { rejected: false }, select: { id: true }, orderBy: { index: "asc" as const }, take: 1 },
  modelVersion: { select: { name: true } },
  // For the "made in a browser" mark (./browser-generations.ts madeInBrowser).
  params: true,
};

/** Gallery items of these generations, in this order (ids that no longer exist are left out). */
export async function galleryItems(db: Db, ids: string[]) {
  const rows = await db.generation.findMany({ where: { id: { in: ids } }, select: itemSelect });
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id) => byId.get(id)).filter((r) => r !== undefined);
}

export type GalleryItem = Awaited<ReturnType<typeof galleryItems>>[number];

/** The covers' (index 0) bits/dim of these generations, by generation id; unscored ones are left out. */
export async function coverBitsPerDim(db: Db, ids: string[]): Promise<Record<string, number>> {
  const rows = await db.image.findMany({
    where: { generationId: { in: ids }, index: 0 },
    select: { generationId: true, bitsPerDim: true },
  });
  return Object.fromEntries(rows.flatMap((r) => (r.bitsPerDim === null ? [] : [[r.generationId, r.bitsPerDim]])));
}

export async function listGallery(db: Db, f: GalleryFilter) {
  const skip = (f.page - 1) * f.pageSize;
  const modelVersionId = f.model || undefined;
  const models = listModelNames(db);
  let total: number;
  let capped = false;
  let items;
  const sort = f.sort ?? "new";
  const where = { status: "done", ...(modelVersionId ? { modelVersionId } : {}) };
  if (f.q) {
    const found = await searchFinishedGenerations(db, { q: f.q, modelVersionId, skip, take: f.pageSize, order: sort });
    items = await galleryItems(db, found.ids);
    total = found.total;
    capped = found.capped;
  } else if (sort === "new") {
    [total, items] = await Promise.all([
      db.generation.count({ where }),
      db.generation.findMany({ where, orderBy: { createdAt: "desc" }, skip, take: f.pageSize, select: itemSelect }),
    ]);
  } else {
    // By typicality: walk the covers (index 0, one per generation) in bits/dim order, the (index, bitsPerDim) index.
    const [count, covers] = await Promise.all([
      db.generation.count({ where }),
      db.image.findMany({
        where: { index: 0, generation: where },
        orderBy: [{ bitsPerDim: { sort: sort === "typical" ? "asc" : "desc", nulls: "last" } }, { generation: { createdAt: "desc" } }],
        skip,
        take: f.pageSize,
        select: { generationId: true },
      }),
    ]);
    total = count;
    items = await galleryItems(
      db,
      covers.map((c) => c.generationId),
    );
  }
  // The number the order is by, for the cards (only when sorting by it).
  const bitsPerDim =
    sort === "new"
      ? {}
      : await coverBitsPerDim(
          db,
          items.map((i) => i.id),
        );
  return { total, capped, pages: Math.max(1, Math.ceil(total / f.pageSize)), items, models: await models, bitsPerDim };
}
