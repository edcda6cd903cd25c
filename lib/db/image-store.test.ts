// The image store (IMAGE_STORE) with the queries that write, read and delete images: a real SQLite file per run
// (always) and PostgreSQL when TESSERA_TEST_PG_URL names a scratch database; the folder store in a temporary folder.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useScratchDb } from "../../test/fixtures/scratch-db";
import { serverEnv } from "../env";
import { createDb, type Db } from "./client";
import { completeJob, deleteGeneration } from "./generations";
import { getImagePng, type FinishedImage } from "./images";
import { deleteQuietly, ImageFileMissing, imageKey, openImageStore, type ImageStore } from "./image-store";
import { migrate } from "./migrate";

const root = process.cwd();
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-image-store-"));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

let folders = 0;
/** A new, empty folder store, and the files in it (relative paths) whenever asked. */
function folderStore() {
  const dir = path.join(scratch, `store-${folders++}`);
  const store = openImageStore(dir);
  const files = () =>
    (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
      .filter((d) => d.isFile())
      .map((d) => path.relative(dir, path.join(d.parentPath, d.name)));
  return { dir, store, files };
}

const png = (n: number) => Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, n, 255 - n]);
const image = (n: number): FinishedImage => ({ png: png(n), width: 32, height: 32, score: n / 10 });
const output = { images: [image(1), image(2)], rejected: [image(3)], candidates: 3 };

function exercise(getDb: () => Db) {
  let versionId: string;
  const running = async (workerId = "w:1:a") =>
    (
      await getDb().generation.create({
        data: { prompt: "image store", params: { n: 2 }, seed: 1, status: "running", workerId, leaseUntil: new Date(Date.now() + 60_000) },
      })
    ).id;
  const rows = (generationId: string) => getDb().image.findMany({ where: { generationId }, orderBy: { index: "asc" } });

  beforeAll(async () => {
    versionId = (await getDb().modelVersion.create({ data: { name: `store-${Date.now()}`, kind: "dalle", path: "m", config: {} } })).id;
  });

  it("with a folder store, writes each PNG to its own file, none to the database, and serves the same bytes", async () => {
    const { store, files } = folderStore();
    const id = await running();
    expect(await completeJob(getDb(), id, "w:1:a", output, { totalMs: 1 }, versionId, store)).toBe(true);
    const stored = await rows(id);
    expect(stored.map((r) => [r.index, r.rejected, r.png])).toEqual([
      [0, false, null],
      [1, false, null],
      [2, true, null],
    ]);
    for (const r of stored) expect(r.storeKey).toMatch(new RegExp(`^${id}/${r.index}-[0-9a-f]{16}\\.png$`));
    // Only the finished files are there: no temporary file is left over.
    expect(files().sort()).toEqual(stored.map((r) => path.join(...r.storeKey!.split("/"))).sort());
    for (const [i, r] of stored.entries()) expect(Buffer.from((await getImagePng(getDb(), r.id, store))!.png)).toEqual(png(i + 1));
    expect(await getImagePng(getDb(), "c000000000000000000000000", store)).toBeNull();
  });

  it("with the database store, keeps the bytes in the rows as before, and either store serves rows like that", async () => {
    const { store: folder, files } = folderStore();
    const database = openImageStore("database");
    const id = await running();
    expect(await completeJob(getDb(), id, "w:1:a", output, {}, versionId, database)).toBe(true);
    const stored = await rows(id);
    expect(stored.map((r) => [Buffer.from(r.png!), r.storeKey])).toEqual([
      [png(1), null],
      [png(2), null],
      [png(3), null],
    ]);
    for (const store of [database, folder]) expect(Buffer.from((await getImagePng(getDb(), stored[0].id, store))!.png)).toEqual(png(1));
    expect(files()).toEqual([]);
  });

  it("leaves no file behind when the lease is lost, and keeps the winner's files", async () => {
    const { store, files } = folderStore();
    const id = await running("w:2:winner");
    expect(await completeJob(getDb(), id, "w:1:loser", output, {}, versionId, store)).toBe(false);
    expect(files()).toEqual([]);
    expect(await rows(id)).toEqual([]);
    // The winner finishes after all: its files stay, the loser's (written later, under other keys) go.
    expect(await completeJob(getDb(), id, "w:2:winner", output, {}, versionId, store)).toBe(true);
    expect(await completeJob(getDb(), id, "w:2:winner", output, {}, versionId, store)).toBe(false);
    expect(files()).toHaveLength(3);
    for (const r of await rows(id)) expect(fs.existsSync(path.join(store.description, r.storeKey!))).toBe(true);
  });

  it("leaves no file behind when the transaction throws, or when one image cannot be written", async () => {
    const { store, files } = folderStore();
    const id = await running();
    // An unknown model version violates the foreign key: the transaction throws after the files were written.
    await expect(completeJob(getDb(), id, "w:1:a", output, {}, "no-such-version", store)).rejects.toThrow();
    expect(files()).toEqual([]);
    const flaky: ImageStore = {
      description: store.description,
      put: (key, bytes) => (key.includes("/2-") ? Promise.reject(new Error("disk full")) : store.put(key, bytes)),
      get: (key) => store.get(key),
      delete: (keys) => store.delete(keys),
    };
    await expect(completeJob(getDb(), id, "w:1:a", output, {}, versionId, flaky)).rejects.toThrow("disk full");
    expect(files()).toEqual([]);
    expect((await getDb().generation.findUniqueOrThrow({ where: { id } })).status).toBe("running");
  });

  it("keeps the files when the commit happened but the client saw an error (nothing is lost)", async () => {
    const { store, files } = folderStore();
    const id = await running();
    const db = getDb();
    // The driver reports a failure after COMMIT went through (a connection dropped at the wrong moment).
    const unlucky = new Proxy(db, {
      get: (t, p) =>
        p === "$transaction"
          ? (...a: Parameters<Db["$transaction"]>) => t.$transaction(...a).then(() => Promise.reject(new Error("connection reset")))
          : Reflect.get(t, p),
    });
    await expect(completeJob(unlucky, id, "w:1:a", output, {}, versionId, store)).rejects.toThrow("connection reset");
    const stored = await rows(id);
    expect(stored).toHaveLength(3);
    expect(files()).toHaveLength(3);
    for (const r of stored) expect((await getImagePng(db, r.id, store))!.png.length).toBe(10);
  });

  it("deletes a generation's files (and their folder) with it, after the rows", async () => {
    const { dir, store, files } = folderStore();
    const id = await running();
    await completeJob(getDb(), id, "w:1:a", output, {}, versionId, store);
    const other = await running();
    await completeJob(getDb(), other, "w:1:a", output, {}, versionId, store);
    expect(await deleteGeneration(getDb(), id, store)).toBe(true);
    expect(await rows(id)).toEqual([]);
    expect(fs.existsSync(path.join(dir, id))).toBe(false);
    expect(files().every((f) => f.startsWith(other))).toBe(true);
    expect(files()).toHaveLength(3);
    expect(await deleteGeneration(getDb(), id, store)).toBe(false);
    // A running job is deleted as before (its worker then finds its lease gone).
    expect(await deleteGeneration(getDb(), await running(), store)).toBe(true);
  });

  it("answers a row whose file is gone with a clear error", async () => {
    const { store } = folderStore();
    const id = await running();
    await completeJob(getDb(), id, "w:1:a", output, {}, versionId, store);
    const [first] = await rows(id);
    fs.rmSync(path.join(store.description, first.storeKey!));
    const missing = getImagePng(getDb(), first.id, store);
    await expect(missing).rejects.toBeInstanceOf(ImageFileMissing);
    await expect(missing).rejects.toThrow(`the file of this image (${first.storeKey}) is missing from the image store`);
    // A server that keeps images in the database cannot read a folder's files: it says so.
    await expect(getImagePng(getDb(), (await rows(id))[1].id, openImageStore("database"))).rejects.toThrow(
      'is in an image folder, but IMAGE_STORE is "database" on this server',
    );
  });
}

describe("SQLite (embedded default)", () => {
  let db: Db;
  beforeAll(async () => {
    const url = `file:${path.join(scratch, "test.db")}`;
    await migrate(url, root);
    db = createDb(url);
  });
  afterAll(() => db?.$disconnect());
  exercise(() => db);
});

describe.runIf(process.env.TESSERA_TEST_PG_URL)("PostgreSQL (TESSERA_TEST_PG_URL)", () => {
  const scratch = useScratchDb("image_store", process.env.TESSERA_TEST_PG_URL);
  exercise(() => scratch().db);
});

describe("IMAGE_STORE", () => {
  const env = (vars: Record<string, string>) => serverEnv(vars as NodeJS.ProcessEnv);
  it('defaults to "database" and rejects an empty value with a message', () => {
    expect(env({}).IMAGE_STORE).toBe("database");
    expect(() => env({ IMAGE_STORE: " " })).toThrow('IMAGE_STORE: IMAGE_STORE must be "database" or a folder path');
  });

  it("creates a missing folder, relative to the project root or absolute", () => {
    const store = openImageStore(path.join("nested", "images"), scratch);
    expect(store.description).toBe(path.join(scratch, "nested", "images"));
    expect(fs.readdirSync(store.description)).toEqual([]);
  });

  it("stops at open, with the folder named, when the folder cannot be written", () => {
    const file = path.join(scratch, "a-file");
    fs.writeFileSync(file, "");
    expect(() => openImageStore(path.join(file, "images"))).toThrow(
      new RegExp(
        `^IMAGE_STORE: cannot write into the folder ${file}/images \\(.*ENOTDIR.*\\); make it writable, or set IMAGE_STORE=database$`,
      ),
    );
  });

  it.skipIf(process.getuid?.() !== 0)(
    "removes a failed attempt's files once the folder takes writes again (chattr +i, then -i)",
    async () => {
      const { dir, store, files } = folderStore();
      const keys = [imageKey("cfault", 0), imageKey("cfault", 1)];
      for (const k of keys) await store.put(k, png(1));
      const warn = console.warn;
      const warnings: string[] = [];
      console.warn = (m: string) => warnings.push(m);
      execFileSync("chattr", ["+i", path.join(dir, "cfault")]);
      try {
        await deleteQuietly(store, keys, "generation cfault was not stored", { firstMs: 100, forMs: 10_000 });
        expect(files()).toHaveLength(2);
      } finally {
        execFileSync("chattr", ["-i", path.join(dir, "cfault")]);
      }
      for (let i = 0; i < 50 && files().length > 0; i++) await new Promise((r) => setTimeout(r, 100));
      console.warn = warn;
      expect(files()).toEqual([]);
      expect(warnings[0]).toMatch(/generation cfault was not stored; cannot remove 2 file\(s\).*; retrying in 100 ms$/);
    },
  );

  it("makes keys that are never reused and refuses any other key", async () => {
    expect(imageKey("cabc", 3)).not.toBe(imageKey("cabc", 3));
    const { store } = folderStore();
    await expect(store.get("../../etc/passwd")).rejects.toThrow("not an image store key");
    await expect(store.put("x/../../1-ab.png", png(1))).rejects.toThrow("not an image store key");
  });
});
