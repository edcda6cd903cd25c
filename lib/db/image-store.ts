// Where the PNG bytes of generated images live (IMAGE_STORE): in the database's Image rows (the default, as it
// always was), or as files in a folder that every server of one database shares — a network folder when they run
// on several machines. One small interface with its implementations side by side, so that an object store (S3 and
// the like) can be added later as one more of them, without touching the queries in generations.ts.
//
// Several processes write into one folder at once, so a key is never reused: `<generationId>/<index>-<random>.png`.
// Two workers that both finish one job (one of them has lost its lease and does not know yet) never write the same
// file, and the loser's cleanup removes only its own files. Each file is written under a temporary name, flushed and
// renamed into place: a reader never sees half a PNG, and a crash never leaves a truncated file under a real key.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { serverEnv } from "../env";

/** The columns of an Image row that say where its bytes are: exactly one of them is set. */
export interface PngColumns {
  png: Uint8Array<ArrayBuffer> | null;
  storeKey: string | null;
}

export interface ImageStore {
  /** What the store is, for log lines: "database" or the folder's absolute path. */
  readonly description: string;
  /** Stores an image's bytes under a new key (see imageKey) and returns the columns its Image row gets. */
  put(key: string, png: Uint8Array): Promise<PngColumns>;
  /** The bytes put stored under a key; ImageFileMissing when they are gone. */
  get(key: string): Promise<Buffer>;
  /** Removes what put stored under these keys (keys already gone are fine); throws after trying them all if any failed. */
  delete(keys: readonly string[]): Promise<void>;
}

/** An Image row names a key whose bytes are not in the store. The message is fit for users (no folder paths). */
export class ImageFileMissing extends Error {
  constructor(
    readonly key: string,
    readonly store: string,
    why: string,
  ) {
    super(`the file of this image (${key}) ${why}`);
  }
}

/** A new, never reused key for image `index` of a generation. */
export function imageKey(generationId: string, index: number): string {
  return `${generationId}/${index}-${randomBytes(8).toString("hex")}.png`;
}

/** Keys as imageKey makes them (generation ids are cuids): anything else could name a file outside the folder. */
const KEY = /^[A-Za-z0-9_-]+\/\d+-[0-9a-f]+\.png$/;

/** The bytes stay in the Image row's png column, written in the same transaction as the row itself. */
const databaseStore: ImageStore = {
  description: "database",
  async put(_key, png) {
    return { png: new Uint8Array(png), storeKey: null };
  },
  async get(key) {
    // A row written while IMAGE_STORE named a folder, read by a server that keeps images in the database.
    throw new ImageFileMissing(key, "database", 'is in an image folder, but IMAGE_STORE is "database" on this server');
  },
  // The bytes go with their rows. (Files of a folder store used before are not this store's to find.)
  async delete() {},
};

class FolderStore implements ImageStore {
  constructor(readonly description: string) {}

  private fileOf(key: string): string {
    if (!KEY.test(key)) throw new Error(`not an image store key: ${JSON.stringify(key)}`);
    return path.join(this.description, ...key.split("/"));
  }

  async put(key: string, png: Uint8Array): Promise<PngColumns> {
    const file = this.fileOf(key);
    const dir = path.dirname(file);
    const temp = path.join(dir, `.${path.basename(file)}.${randomBytes(4).toString("hex")}.tmp`);
    // Twice at most: another process's cleanup (a job deleted, or finished by two workers) may remove the
    // generation's folder once it looks empty, between our mkdir and our write.
    for (let attempt = 1; ; attempt++) {
      try {
        await fs.promises.mkdir(dir, { recursive: true });
        const handle = await fs.promises.open(temp, "wx");
        try {
          await handle.writeFile(png);
          await handle.sync();
        } finally {
          await handle.close();
        }
        await fs.promises.rename(temp, file);
        break;
      } catch (err) {
        await fs.promises.rm(temp, { force: true }).catch(() => {});
        if ((err as NodeJS.ErrnoException).code === "ENOENT" && attempt < 2) continue;
        throw new Error(`cannot write ${key} into the image store ${this.description}: ${(err as Error).message}`);
      }
    }
    await syncDir(dir);
    return { png: null, storeKey: key };
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await fs.promises.readFile(this.fileOf(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT")
        throw new ImageFileMissing(key, this.description, "is missing from the image store");
      throw err;
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    const results = await Promise.allSettled(keys.map(async (k) => fs.promises.rm(this.fileOf(k), { force: true })));
    // A generation's folder goes once it is empty; a folder still holding files (another attempt's) stays.
    const dirs = new Set(keys.filter((k) => KEY.test(k)).map((k) => path.dirname(this.fileOf(k))));
    await Promise.all([...dirs].map((d) => fs.promises.rmdir(d).catch(() => {})));
    const failed = results.flatMap((r, i) => (r.status === "rejected" ? [`${keys[i]}: ${(r.reason as Error).message}`] : []));
    if (failed.length)
      throw new Error(`cannot remove ${failed.length} file(s) from the image store ${this.description}: ${failed.join("; ")}`);
  }
}

/** Puts several images at once; when any put fails, removes the others' files again and throws its error. */
export async function putAll(store: ImageStore, images: { key: string; png: Uint8Array }[]): Promise<PngColumns[]> {
  const placed = await Promise.allSettled(images.map((i) => store.put(i.key, i.png)));
  const failed = placed.find((p) => p.status === "rejected");
  if (!failed) return placed.map((p) => (p as PromiseFulfilledResult<PngColumns>).value);
  const written = placed.flatMap((p) => (p.status === "fulfilled" && p.value.storeKey !== null ? [p.value.storeKey] : []));
  await deleteQuietly(store, written, "an image could not be stored");
  throw failed.reason;
}

/**
 * Deletes files no row names (any more); a failure is logged, not thrown. The folder that refused the removal (the
 * fault that made the attempt fail: an unwritable image folder) usually takes it again soon, so the removal is
 * retried in the background, the pause doubling from `retry.firstMs` up to a minute, for `retry.forMs`.
 */
export async function deleteQuietly(
  store: ImageStore,
  keys: readonly string[],
  why: string,
  retry: { firstMs: number; forMs: number } = { firstMs: 2000, forMs: 15 * 60_000 },
): Promise<void> {
  if (keys.length === 0) return;
  const until = Date.now() + retry.forMs;
  const attempt = (pause: number): Promise<void> =>
    store.delete(keys).catch((err: unknown) => {
      const again = Date.now() + pause <= until;
      console.warn(`[tessera] ${why}; ${(err as Error).message}${again ? `; retrying in ${pause} ms` : ""}`);
      // Not awaited: the caller's work does not wait on a folder that may stay unwritable; unref'd, so that a
      // removal still pending never keeps a process alive.
      if (again) setTimeout(() => void attempt(Math.min(60_000, pause * 2)), pause).unref();
    });
  await attempt(retry.firstMs);
}

/** Makes a rename durable (POSIX); a platform that cannot open a folder for fsync (Windows) skips it. */
async function syncDir(dir: string): Promise<void> {
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(dir, "r");
    await handle.sync();
  } catch {
    // Not durable on this platform; the rename itself has happened.
  } finally {
    await handle?.close().catch(() => {});
  }
}

/**
 * The store an IMAGE_STORE value names: "database", or a folder relative to `root` or absolute, created if missing
 * and proved writable here, so that a server opening it at start stops there, not at its first finished job.
 */
export function openImageStore(setting: string, root: string = process.cwd()): ImageStore {
  if (setting === "database") return databaseStore;
  const dir = path.resolve(root, setting);
  try {
    fs.mkdirSync(dir, { recursive: true });
    const probe = path.join(dir, `.probe-${process.pid}-${randomBytes(4).toString("hex")}`);
    fs.writeFileSync(probe, "");
    fs.rmSync(probe);
  } catch (err) {
    throw new Error(
      `IMAGE_STORE: cannot write into the folder ${dir} (${(err as Error).message}); make it writable, or set IMAGE_STORE=database`,
    );
  }
  return new FolderStore(dir);
}

const cache = globalThis as unknown as { tesseraImageStore?: { setting: string; store: ImageStore } };

/**
 * The process's store, as IMAGE_STORE names it; opened on first use (call it at start to check the setting) and
 * kept on globalThis, because Next bundles routes separately. Opened again if the setting changes (tests do that).
 */
export function imageStore(): ImageStore {
  const setting = serverEnv().IMAGE_STORE;
  if (cache.tesseraImageStore?.setting !== setting) cache.tesseraImageStore = { setting, store: openImageStore(setting) };
  return cache.tesseraImageStore.store;
}
