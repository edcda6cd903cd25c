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
