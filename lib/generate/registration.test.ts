// Which model folders a start registers: the shipped one as the active version of an empty database, and each
// extra folder (TESSERA_EXTRA_MODEL_DIRS) once, not active, on a new or an existing database; missing ones skipped.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, type Db } from "../db/client";
import { migrate } from "../db/migrate";
import { serverEnv } from "../env";
import { ensureDefaultVersion, ensureExtraVersions } from "./registration";

let dir: string;
let db: Db;

/** A folder with a valid checkpoint manifest: registration reads only that (loading is the registry's). */
function modelFolder(name: string): string {
  const d = path.join(dir, name);
  fs.mkdirSync(d, { recursive: true });
  const manifest = {
    format: "tessera-checkpoint",
    version: 1,
    kind: "transformer",
    config: { nLayer: 1, name },
    metrics: { valLoss: 2 },
    dataHash: null,
    tfjsVersion: "4.22.0",
    createdAt: new Date(0).toISOString(),
    weights: { file: "weights.bin", dtype: "float16", bytes: 0, sha256: "", tensors: [] },
    extra: {},
  };
  fs.writeFileSync(path.join(d, "manifest.json"), JSON.stringify(manifest));
  return d;
}

const env = (vars: Record<string, string>) => serverEnv(vars as NodeJS.ProcessEnv);
const versions = () => db.modelVersion.findMany({ orderBy: { name: "asc" }, select: { name: true, path: true, active: true, kind: true } });

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-registration-"));
  const url = `file:${path.join(dir, "r.db")}`;
  await migrate(url);
  db = createDb(url);
});
afterAll(async () => {
  await db?.$disconnect();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("model registration at start", () => {
  it("reads TESSERA_EXTRA_MODEL_DIRS as a comma-separated list, models/shapes by default, empty for none", () => {
    expect(env({}).TESSERA_EXTRA_MODEL_DIRS).toEqual(["models/shapes"]);
    expect(env({ TESSERA_EXTRA_MODEL_DIRS: " a , b/c,," }).TESSERA_EXTRA_MODEL_DIRS).toEqual(["a", "b/c"]);
    expect(env({ TESSERA_EXTRA_MODEL_DIRS: "" }).TESSERA_EXTRA_MODEL_DIRS).toEqual([]);
    expect(env({}).MODELS_LOADED).toBe(2);
    expect(() => env({ MODELS_LOADED: "0" })).toThrow(/MODELS_LOADED/);
  });

  it("registers the shipped folder active and each extra folder once, not active, skipping missing ones silently", async () => {
    modelFolder("default");
    modelFolder("shapes");
    fs.mkdirSync(path.join(dir, "empty"));
    const extras = ["shapes", "not-shipped", "empty"];
    await ensureDefaultVersion(db, "default", dir);
    const first = await ensureExtraVersions(db, extras, dir);
    expect(first).toEqual({ registered: ["shapes"], failed: [] });
    expect(await versions()).toEqual([
      { name: "default", path: "default", active: true, kind: "dalle" },
      { name: "shapes", path: "shapes", active: false, kind: "dalle" },
    ]);
    const stored = await db.modelVersion.findUniqueOrThrow({ where: { name: "shapes" } });
    expect([stored.config, stored.metrics]).toEqual([{ nLayer: 1, name: "shapes" }, { valLoss: 2 }]);
    // The next start registers nothing again, and never touches the active flag.
    await db.modelVersion.update({ where: { name: "shapes" }, data: { active: true } });
    await db.modelVersion.update({ where: { name: "default" }, data: { active: false } });
    expect(await ensureExtraVersions(db, extras, dir)).toEqual({ registered: [], failed: [] });
    expect((await versions()).map((v) => [v.name, v.active])).toEqual([
      ["default", false],
      ["shapes", true],
    ]);
  });

  it("an existing database gets a folder shipped later on its next start; a folder whose manifest is broken is reported", async () => {
    expect(await db.modelVersion.count()).toBeGreaterThan(0);
    modelFolder("later");
    fs.mkdirSync(path.join(dir, "broken"));
    fs.writeFileSync(path.join(dir, "broken", "manifest.json"), "{ not json");
    const r = await ensureExtraVersions(db, ["later", "broken"], dir);
    expect(r.registered).toEqual(["later"]);
    expect(r.failed.map((f) => f.dir)).toEqual(["broken"]);
    expect(await db.modelVersion.findUniqueOrThrow({ where: { name: "later" } })).toMatchObject({ active: false, path: "later" });
    expect(await db.modelVersion.count({ where: { name: "broken" } })).toBe(0);
  });
});
