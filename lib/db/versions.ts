// Named queries on model versions: the one definition of "the active model" (the newest version marked active)
// used by the API, the pages, the health report, the model registry and the retraining pipeline.
import type { Db } from "./client";

/** The active model version, or null when none is active. */
export function findActiveModelVersion(db: Db) {
  return db.modelVersion.findFirst({ where: { active: true }, orderBy: { createdAt: "desc" } });
}

/** Every version, newest first, with how many generations each made (the /models page). */
export function listModelVersions(db: Db) {
  return db.modelVersion.findMany({ orderBy: { createdAt: "desc" }, include: { _count: { select: { generations: true } } } });
}

/** Id and name of every version, newest first (the gallery's model filter). */
export function listModelNames(db: Db) {
  return db.modelVersion.findMany({ select: { id: true, name: true }, orderBy: { createdAt: "desc" } });
}

/** One version by id, or null. */
export function findModelVersion(db: Db, id: string) {
  return db.modelVersion.findUnique({ where: { id } });
}

/** One version by id or, failing that, by name (what the API's `model` and the pages' `?model=` accept), or null. */
export async function findModelVersionByIdOrName(db: Db, key: string) {
  return (await db.modelVersion.findUnique({ where: { id: key } })) ?? db.modelVersion.findUnique({ where: { name: key } });
}

/** The versions that generate images (kind "dalle"): the active one first, then newest first (the Create page's picker). */
export function listServableModelVersions(db: Db) {
  return db.modelVersion.findMany({
    where: { kind: "dalle" },
    orderBy: [{ active: "desc" }, { createdAt: "desc" }, { name: "asc" }],
    select: { id: true, name: true, path: true, active: true },
  });
}

/** Whether a version of this name is registered. */
export async function modelVersionNameTaken(db: Db, name: string): Promise<boolean> {
  return (await db.modelVersion.count({ where: { name } })) > 0;
}

/** The folder of one version, or null for an unknown id. */
export function findModelVersionPath(db: Db, id: string) {
  return db.modelVersion.findUnique({ where: { id }, select: { path: true } });
}

export function countModelVersions(db: Db): Promise<number> {
  return db.modelVersion.count();
}

export function createModelVersion(
  db: Db,
  data: { name: string; kind: string; path: string; config: object; metrics?: object; active?: boolean },
) {
  return db.modelVersion.create({ data });
}

/** Creates the version of this name, or updates its folder, config and metrics (retraining the same name). */
export function upsertModelVersion(db: Db, data: { name: string; kind: string; path: string; config: object; metrics: object }) {
  const { name, ...rest } = data;
  return db.modelVersion.upsert({ where: { name }, create: data, update: { path: rest.path, config: rest.config, metrics: rest.metrics } });
}

/** Makes one version the only active one; false when the id is unknown (nothing changes then). */
export async function activateModelVersion(db: Db, id: string): Promise<boolean> {
  if (!(await db.modelVersion.findUnique({ where: { id }, select: { id: true } }))) return false;
  await db.$transaction([
    db.modelVersion.updateMany({ data: { active: false } }),
    db.modelVersion.update({ where: { id }, data: { active: true } }),
  ]);
  return true;
}
