// The model registry's cache: several versions loaded at once (MODELS_LOADED), each loaded once however many ask
// at a time, the least recently acquired evicted beyond the cap and disposed only once its last lease is released,
// load errors reported per version, and nothing left in memory after dispose().
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeTinyModelFolder } from "../../test/fixtures/tiny-model";
import { createDb, type Db } from "../db/client";
import { migrate } from "../db/migrate";
import { selectBackend } from "../tensor/backend";
import type { ModelBundle } from "./model-bundle";
import { ModelRegistry, UnknownModelVersionError } from "./registry";

let dir: string;
let db: Db;
const ids: Record<string, string> = {};

// One weight of each bundle leased, kept to tell later whether the bundle was disposed (dispose() empties its store).
const probes = new WeakMap<ModelBundle, tf.Variable>();
async function acquire(registry: ModelRegistry, id?: string) {
  const lease = await registry.acquire(id);
  if (!probes.has(lease.bundle)) probes.set(lease.bundle, [...lease.bundle.transformer.params.all().values()][0]);
  return lease;
}
/** Whether a bundle's weights were freed. */
const freed = (b: ModelBundle) => probes.get(b)!.isDisposed;

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-registry-"));
  const url = `file:${path.join(dir, "r.db")}`;
  await migrate(url);
  db = createDb(url);
  for (const [name, seed] of [
    ["a", 1],
    ["b", 2],
    ["c", 3],
  ] as const) {
    await writeTinyModelFolder(path.join(dir, name), 16, seed);
    ids[name] = (
      await db.modelVersion.create({ data: { name, kind: "dalle", path: path.join(dir, name), config: {}, active: name === "a" } })
    ).id;
  }
  fs.mkdirSync(path.join(dir, "broken"));
  fs.writeFileSync(path.join(dir, "broken", "manifest.json"), "{ not json");
  ids.broken = (await db.modelVersion.create({ data: { name: "broken", kind: "dalle", path: path.join(dir, "broken"), config: {} } })).id;
});
afterAll(async () => {
  await db?.$disconnect();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("model registry", () => {
  it("keeps two versions loaded, loads each once for concurrent requests, and serves the active one without an id", async () => {
    const registry = new ModelRegistry(db, dir, 2);
    const [a1, a2, b1] = await Promise.all([acquire(registry), acquire(registry, ids.a), acquire(registry, ids.b)]);
    expect([a1.name, a2.name, b1.name]).toEqual(["a", "a", "b"]);
    expect(a1.bundle).toBe(a2.bundle);
    expect(a1.bundle).not.toBe(b1.bundle);
    expect(registry.loadedIds.sort()).toEqual([ids.a, ids.b].sort());
    expect(registry.loadedName).toBe("a");
    for (const l of [a1, a2, b1]) l.release();
    // Released but within the cap: both stay loaded, and the next acquire of each reuses its bundle.
    const [a3, b2] = [await acquire(registry, ids.a), await acquire(registry, ids.b)];
    expect([a3.bundle, b2.bundle]).toEqual([a1.bundle, b1.bundle]);
    expect([freed(a1.bundle), freed(b1.bundle)]).toEqual([false, false]);
    a3.release();
    b2.release();
    registry.dispose();
    expect([freed(a1.bundle), freed(b1.bundle)]).toEqual([true, true]);
  });

  it("evicts the least recently acquired version beyond the cap, and frees it only when its last lease is released", async () => {
    const registry = new ModelRegistry(db, dir, 2);
    const a = await acquire(registry, ids.a);
    const b = await acquire(registry, ids.b);
    // a is used again after b: b is now the least recently used.
    const aAgain = await acquire(registry, ids.a);
    aAgain.release();
    a.release();
    const c = await acquire(registry, ids.c);
    expect(registry.loadedIds).toEqual([ids.a, ids.c]);
    // b is out of the cache but its job still holds it: its weights stay until that lease ends.
    expect(freed(b.bundle)).toBe(false);
    expect(b.bundle.transformer.params.names().length).toBeGreaterThan(0);
    b.release();
    expect(freed(b.bundle)).toBe(true);
    expect(freed(a.bundle)).toBe(false);
    // Acquiring b again loads it afresh, evicting a (now the least recent); a has no lease, so it goes at once.
    const b2 = await acquire(registry, ids.b);
    expect(b2.bundle).not.toBe(b.bundle);
    expect(registry.loadedIds).toEqual([ids.c, ids.b]);
    expect(freed(a.bundle)).toBe(true);
    c.release();
    b2.release();
    registry.dispose();
    expect([freed(c.bundle), freed(b2.bundle)]).toEqual([true, true]);
  });

  it("reports a load error for that version only, refuses unknown ids, and leaves no tensor behind", async () => {
    const before = tf.memory().numTensors;
    const registry = new ModelRegistry(db, dir, 1);
    await expect(acquire(registry, ids.broken)).rejects.toThrow();
    expect(registry.loadErrorOf(ids.broken)).toMatchObject({ versionId: ids.broken, name: "broken" });
    // The active version (a) loads fine and the health report's error is the active one's: none.
    const a = await acquire(registry);
    expect([registry.loadError, registry.loadErrorOf(ids.a)]).toEqual([null, null]);
    await expect(acquire(registry, "no-such-version")).rejects.toBeInstanceOf(UnknownModelVersionError);
    // With one slot, the active swap still works: the old version serves its job until released, then is freed.
    await db.modelVersion.updateMany({ data: { active: false } });
    await db.modelVersion.update({ where: { id: ids.c }, data: { active: true } });
    const c = await acquire(registry);
    expect([c.name, registry.loadedName, freed(a.bundle)]).toEqual(["c", "c", false]);
    a.release();
    expect(freed(a.bundle)).toBe(true);
    c.release();
    registry.dispose();
    expect(tf.memory().numTensors).toBe(before);
    await db.modelVersion.updateMany({ data: { active: false } });
    await db.modelVersion.update({ where: { id: ids.a }, data: { active: true } });
  });
});
