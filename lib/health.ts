// What /api/health reports, gathered in one place so the page and the route say the same thing. "ok" only when
// everything a generation needs works: a tensor backend, a database that takes writes (not just reads), folders that
// take files (the SQLite database's, the image store's), generation threads that store their results and make
// progress, and an active model that loaded; otherwise "degraded" with the reasons. Messages carry no absolute paths.
import path from "node:path";
import { backendIfReady, initBackend } from "./tensor/backend";
import { getDb, pingDb, probeWrite } from "./db/client";
import { parseDatabaseUrl } from "./db/url";
import { folderRefusesWrites } from "./db/writable";
import { serverEnv } from "./env";
import { findActiveModelVersion } from "./db/versions";
import { publicMessage } from "./errors";
import { folderHasClip } from "./generate/model-bundle";
import { generationServiceIfStarted } from "./generate/service";
import { VERSION } from "./version";

export interface Health {
  status: "ok" | "degraded";
  /** Why the status is "degraded" (empty when "ok"). */
  reasons: string[];
  version: string;
  uptimeS: number;
  /** Resident memory of the server process, MiB. */
  rssMiB: number;
  backend: { name: string; detail: string } | { name: null; error: string };
  db:
    | { reachable: true; writable: true; provider: string; latencyMs: number }
    | { reachable: true; writable: false; provider: string; latencyMs: number; error: string }
    | { reachable: false; writable: false; provider: string | null; error: string };
  /**
   * The active model version registered in the database; `loaded` turns true once a model is in memory; `rerank`
   * says whether its folder carries a CLIP, i.e. whether requests sample candidates and keep CLIP's best.
   */
  model: { loaded: boolean; active: string | null; rerank: boolean; error?: string };
  /**
   * Generation threads (0: the worker runs on the server's event loop, or the service has not started), jobs
   * running, the last write a worker could not make (null once one succeeds), and threads being restarted because
   * they made no progress.
   */
  workers: { threads: number; busy: number; lastWriteError: string | null; stalled: string[] };
  /** The folders writes go to, each with whether it takes a new file now. */
  folders: { name: "database folder" | "image folder"; writable: boolean; error?: string }[];
}

export async function getHealth(): Promise<Health> {
  const [backend, db, folders] = await Promise.all([backendHealth(), dbHealth(), foldersHealth()]);
  const active = db.reachable ? await findActiveModelVersion(getDb()).catch(() => null) : null;
  const service = await generationServiceIfStarted();
  // The model is loaded once any registry holds it: a generation thread's (each has its own) or this thread's.
  const loadedNames = [service?.registry.loadedName, ...(service?.threads?.loadedNames ?? [])];
  const loadErrors = [service?.registry.loadError, ...(service?.threads?.loadErrors ?? [])];
  const loadError = active ? loadErrors.find((e) => e?.versionId === active.id) : undefined;
  const model: Health["model"] = {
    loaded: active !== null && loadedNames.includes(active.name),
    active: active?.name ?? null,
    rerank: active !== null && folderHasClip(active.path),
  };
  if (loadError && !model.loaded) model.error = loadError.message;
  const reasons: string[] = [];
  if (backend.name === null) reasons.push(`no tensor backend: ${backend.error}`);
  if (!db.reachable) reasons.push(`the database is unreachable: ${db.error}`);
  else if (!db.writable) reasons.push(`the database does not accept writes: ${db.error}`);
  for (const f of folders) if (!f.writable) reasons.push(`the ${f.name} does not accept new files: ${f.error}`);
  const lastWriteError = service?.worker.lastWriteError ?? null;
  if (lastWriteError) reasons.push(`generation cannot store its results: ${lastWriteError}`);
  const stalled = service?.threads?.stalled ?? [];
  reasons.push(...stalled);
  if (model.error) reasons.push(`the active model ${model.active} failed to load: ${model.error}`);
  return {
    status: reasons.length ? "degraded" : "ok",
    reasons,
    version: VERSION,
    uptimeS: Math.round(process.uptime()),
    rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
    backend,
    db,
    model,
    workers: { threads: service?.threads?.threads ?? 0, busy: service?.worker.busy ?? 0, lastWriteError, stalled },
    folders,
  };
}

async function backendHealth(): Promise<Health["backend"]> {
  try {
    const info = (await backendIfReady()) ?? (await initBackend());
    return { name: info.name, detail: info.detail };
  } catch (err) {
    return { name: null, error: publicMessage(err) };
  }
}

async function foldersHealth(): Promise<Health["folders"]> {
  const dirs: { name: Health["folders"][number]["name"]; dir: string }[] = [];
  try {
    const target = parseDatabaseUrl(process.env.DATABASE_URL);
    if (target.provider === "sqlite") dirs.push({ name: "database folder", dir: path.dirname(target.file) });
    const store = serverEnv().IMAGE_STORE;
    if (store !== "database") dirs.push({ name: "image folder", dir: path.resolve(store) });
  } catch {
    // A bad setting is reported where it is used (the database check, the image store at start).
  }
  return Promise.all(
    dirs.map(async ({ name, dir }) => {
      const error = await folderRefusesWrites(dir);
      return error === null ? { name, writable: true } : { name, writable: false, error };
    }),
  );
}

async function dbHealth(): Promise<Health["db"]> {
  let provider: string | null = null;
  let latencyMs: number;
  try {
    provider = parseDatabaseUrl(process.env.DATABASE_URL).provider;
    latencyMs = Math.round((await pingDb(getDb())) * 10) / 10;
  } catch (err) {
    return { reachable: false, writable: false, provider, error: publicMessage(err) };
  }
  try {
    // A connection opened while the files refused writes stays read-only: its first write fails with "readonly
    // database" and gets it replaced (lib/db/sqlite-adapter.ts), so a read-only answer is asked once more.
    await probeWrite(getDb()).catch((err: unknown) => {
      if (!/readonly database/i.test(String((err as Error)?.message))) throw err;
      return probeWrite(getDb());
    });
    return { reachable: true, writable: true, provider, latencyMs };
  } catch (err) {
    return { reachable: true, writable: false, provider, latencyMs, error: publicMessage(err) };
  }
}
