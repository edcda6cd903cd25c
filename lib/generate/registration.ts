// Which model folders the database knows at start: the shipped TESSERA_MODEL_DIR becomes the active version of an
// empty database, and every folder of TESSERA_EXTRA_MODEL_DIRS (default models/shapes) that exists is registered
// beside it, not active, under its folder name — on an existing database too, the first start that finds it.
import fs from "node:fs";
import path from "node:path";
import type { Db } from "../db/client";
import { countModelVersions, createModelVersion, modelVersionNameTaken } from "../db/versions";
import { readCheckpointManifest } from "../model/checkpoint";

/** Registers a shipped model folder as the active version when the database has none yet. */
export async function ensureDefaultVersion(db: Db, dir: string, root = process.cwd()): Promise<void> {
  if ((await countModelVersions(db)) > 0) return;
  const manifest = readCheckpointManifest(path.resolve(root, dir));
  await createModelVersion(db, {
    name: path.basename(dir),
    kind: "dalle",
    path: dir,
    config: manifest.config as object,
    metrics: manifest.metrics as object,
    active: true,
  });
}

export interface ExtraRegistration {
  /** Names registered by this call. */
  registered: string[];
  /** Folders that exist but could not be registered (an unreadable manifest), with why. */
  failed: { dir: string; message: string }[];
}

/**
 * Registers each folder that holds a manifest.json as a version named after the folder, not active, unless a
 * version of that name exists (so it happens once, and a retrained or renamed version is never overwritten).
 * A folder that does not exist is skipped silently: a checkout may not ship it.
 */
export async function ensureExtraVersions(db: Db, dirs: readonly string[], root = process.cwd()): Promise<ExtraRegistration> {
  const out: ExtraRegistration = { registered: [], failed: [] };
  for (const dir of dirs) {
    const abs = path.resolve(root, dir);
    if (!fs.existsSync(path.join(/*turbopackIgnore: true*/ abs, "manifest.json"))) continue;
    const name = path.basename(abs);
    if (await modelVersionNameTaken(db, name)) continue;
    try {
      const manifest = readCheckpointManifest(abs);
      await createModelVersion(db, {
        name,
        kind: "dalle",
        path: dir,
        config: manifest.config as object,
        metrics: manifest.metrics as object,
        active: false,
      });
      out.registered.push(name);
    } catch (err) {
      // Another server starting on the same database may have registered it meanwhile (the name is unique).
      if (await modelVersionNameTaken(db, name)) continue;
      out.failed.push({ dir, message: (err as Error).message });
    }
  }
  return out;
}
