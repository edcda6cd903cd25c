// The one Prisma client of the process. SQLite (embedded, the default) through better-sqlite3, or PostgreSQL
// when DATABASE_URL says postgresql://. Both clients are generated from one data model (prisma/schema.prisma),
// so the rest of the code sees a single type.
import fs from "node:fs";
import path from "node:path";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "../generated/prisma/client";
import { PrismaClient as PgPrismaClient } from "../generated/prisma-pg/client";
import { ResilientSqlite } from "./sqlite-adapter";
import { parseDatabaseUrl, type DatabaseTarget } from "./url";

export type Db = PrismaClient;

/** A new client for a database URL (tests use this with a temporary SQLite file; the app uses getDb()). */
export function createDb(databaseUrl?: string): Db {
  return clientFor(parseDatabaseUrl(databaseUrl));
}

export function clientFor(target: DatabaseTarget): Db {
  let db: Db;
  if (target.provider === "sqlite") {
    fs.mkdirSync(path.dirname(target.file), { recursive: true });
    // Not upstream's adapter alone: a failed COMMIT would wedge the connection for good (./sqlite-adapter.ts).
    db = new PrismaClient({ adapter: new ResilientSqlite({ url: target.url }) });
  } else {
    // Same data model, generated for the postgresql provider: its API is the SQLite client's.
    db = new PgPrismaClient({ adapter: new PrismaPg({ connectionString: target.url }) }) as unknown as Db;
  }
  targets.set(db, target);
  return db;
}

const targets = new WeakMap<Db, DatabaseTarget>();

/** The database a client was made for: a worker thread that must open its own client to it (the vector index) asks. */
export function dbTarget(db: Db): DatabaseTarget {
  const target = targets.get(db);
  if (!target) throw new Error("dbTarget: this client was not made by createDb()");
  return target;
}

/** Which SQL dialect a client speaks, for the few queries (search) that are written per provider. */
export function dbProvider(db: Db): DatabaseTarget["provider"] {
  const target = targets.get(db);
  if (!target) throw new Error("dbProvider: this client was not made by createDb()");
  return target.provider;
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

/**
 * Proves the database takes writes, not only reads. PostgreSQL: an UPDATE that matches no row still needs a writable
 * transaction, so a read-only replica rejects it while SELECT 1 succeeds. SQLite: such an UPDATE takes the write lock
 * but commits nothing, and so does one that rewrites a row with its own value (SQLite skips a cell whose content is
 * unchanged), so a file that fails every commit with an I/O error passed it. There the probe changes one row of
 * Prisma's migration table and changes it back in one transaction: a real commit, of the same content.
 */
export async function probeWrite(db: Db = getDb()): Promise<void> {
  if (dbProvider(db) === "sqlite") {
    const first = `rowid = (SELECT min(rowid) FROM "_prisma_migrations")`;
    await db.$transaction([
      db.$executeRawUnsafe(`UPDATE "_prisma_migrations" SET "checksum" = "checksum" || '~' WHERE ${first}`),
      db.$executeRawUnsafe(`UPDATE "_prisma_migrations" SET "checksum" = substr("checksum", 1, length("checksum") - 1) WHERE ${first}`),
    ]);
  } else await db.$executeRaw`UPDATE "AdminSession" SET "expiresAt" = "expiresAt" WHERE 1 = 0`;
}
