// What /api/health reports, gathered in one place so the page and the route say the same thing.
import { backendIfReady, initBackend } from "./tensor/backend";
import { getDb, pingDb } from "./db/client";
import { parseDatabaseUrl } from "./db/url";
import { generationServiceIfStarted } from "./generate/service";
import { VERSION } from "./version";

export interface Health {
  status: "ok" | "degraded";
  version: string;
  uptimeS: number;
  /** Resident memory of the server process, MiB. */
  rssMiB: number;
  backend: { name: string; detail: string } | { name: null; error: string };
  db: { reachable: true; provider: string; latencyMs: number } | { reachable: false; provider: string | null; error: string };
  /** The active model version registered in the database; `loaded` turns true once a model is in memory. */
  model: { loaded: boolean; active: string | null };
}

export async function getHealth(): Promise<Health> {
  const [backend, db] = await Promise.all([backendHealth(), dbHealth()]);
  const active = db.reachable ? await activeModelName().catch(() => null) : null;
  return {
    status: backend.name !== null && db.reachable ? "ok" : "degraded",
    version: VERSION,
    uptimeS: Math.round(process.uptime()),
    rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
    backend,
    db,
    model: { loaded: (await generationServiceIfStarted())?.registry.loadedName === active && active !== null, active },
  };
}

async function backendHealth(): Promise<Health["backend"]> {
  try {
    const info = (await backendIfReady()) ?? (await initBackend());
    return { name: info.name, detail: info.detail };
  } catch (err) {
    return { name: null, error: (err as Error).message };
  }
}

async function dbHealth(): Promise<Health["db"]> {
  let provider: string | null = null;
  try {
    provider = parseDatabaseUrl(process.env.DATABASE_URL).provider;
    const latencyMs = await pingDb(getDb());
    return { reachable: true, provider, latencyMs: Math.round(latencyMs * 10) / 10 };
  } catch (err) {
    return { reachable: false, provider, error: (err as Error).message.split("\n")[0] };
  }
}

async function activeModelName(): Promise<string | null> {
  const active = await getDb().modelVersion.findFirst({ where: { active: true }, select: { name: true } });
  return active?.name ?? null;
}
