// The one Prisma client of the process. SQLite (embedded, the default) through better-sqlite3, or PostgreSQL
// when DATABASE_URL says postgresql://. Both clients are generated from one data model (prisma/schema.prisma),
// so the rest of the code sees a single type.
import fs from "node:fs";
import path from "node:path";
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "../generated/prisma/client";
import { PrismaClient as PgPrismaClient } from "../generated/prisma-pg/client";
import { parseDatabaseUrl, type DatabaseTarget } from "./url";

export type Db = PrismaClient;

/** A new client for a database URL (tests use this with a temporary SQLite file; the app uses getDb()). */
export function createDb(databaseUrl?: string): Db {
  return clientFor(parseDatabaseUrl(databaseUrl));
}

export function clientFor(target: DatabaseTarget): Db {
  if (target.provider === "sqlite") {
    fs.mkdirSync(path.dirname(target.file), { recursive: true });
    return new PrismaClient({ adapter: new PrismaBetterSQLite3({ url: target.url }) });
  }
  // Same data model, generated for the postgresql provider: its API is the SQLite client's.
  return new PgPrismaClient({ adapter: new PrismaPg({ connectionString: target.url }) }) as unknown as Db;
}

const cache = globalThis as unknown as { tesseraDb?: Db };

/**
 * The process-wide client for DATABASE_URL. Cached on globalThis outside production so that Next's hot reload
 * in `npm run dev` does not open a new connection pool on every edit.
 */
export function getDb(): Db {
  processDb ??= cache.tesseraDb ?? createDb(process.env.DATABASE_URL);
  if (process.env.NODE_ENV !== "production") cache.tesseraDb = processDb;
  return processDb;
}
let processDb: Db | undefined;

/** Round-trips a trivial query; resolves to the latency in ms or rejects with the driver's error. */
export async function pingDb(db: Db = getDb()): Promise<number> {
  const started = performance.now();
  await db.$queryRaw`SELECT 1`;
  return performance.now() - started;
}
