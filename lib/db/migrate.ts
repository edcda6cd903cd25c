// Brings a database up to the checked-in migrations (prisma/migrations for SQLite, prisma/postgres/migrations
// for PostgreSQL). Run by `npm start` before the server opens, and by tests on a temporary database.
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import pg from "pg";
import { parseDatabaseUrl, redact, type DatabaseTarget } from "./url";

const run = promisify(execFile);

export interface MigrationResult {
  provider: DatabaseTarget["provider"];
  /** Migrations applied by this call (already-applied ones are not listed). */
  applied: string[];
}

/** Applies pending migrations; `root` is the project folder holding prisma/ and node_modules/. */
export async function migrate(databaseUrl: string | undefined, root: string = process.cwd()): Promise<MigrationResult> {
  const target = parseDatabaseUrl(databaseUrl, root);
  return target.provider === "sqlite" ? migrateSqlite(target.url, root) : migratePostgres(target.url, root);
}

/** SQLite: `prisma migrate deploy` through the better-sqlite3 adapter named in prisma.config.ts. */
async function migrateSqlite(url: string, root: string): Promise<MigrationResult> {
  const file = url.slice("file:".length);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const before = new Set(appliedSqliteMigrations(file));
  // Nothing pending: prisma is not run. It sets locking_mode=EXCLUSIVE, which on a WAL database (./sqlite-adapter.ts)
  // waits for every other connection to close — a worker process or a server still running would fail the start.
  if (listMigrations(path.join(root, "prisma", "migrations")).every((m) => before.has(m))) return { provider: "sqlite", applied: [] };
  const prisma = path.join(root, "node_modules", ".bin", "prisma");
  try {
    await run(prisma, ["migrate", "deploy"], { cwd: root, env: { ...process.env, DATABASE_URL: url } });
    return { provider: "sqlite", applied: appliedSqliteMigrations(file).filter((m) => !before.has(m)) };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    const busy = /SocketTimeout|SQLITE_BUSY|database is locked/.test(`${e.stderr}${e.stdout}${e.message}`)
      ? "\n(migrating needs the database to itself: stop the servers and workers that have it open)"
      : "";
    throw new Error(`prisma migrate deploy failed for ${url}:\n${e.stderr || e.stdout || e.message}${busy}`);
  }
}

/** Names of the migrations Prisma has finished on a SQLite file (none for a new file). */
function appliedSqliteMigrations(file: string): string[] {
  if (!fs.existsSync(file)) return [];
  const sqlite = new Database(file, { readonly: true });
  try {
    const table = sqlite.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_prisma_migrations'").get();
    if (!table) return [];
    const rows = sqlite
      .prepare(
        "SELECT migration_name AS name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL ORDER BY migration_name",
      )
      .all() as { name: string }[];
    return rows.map((r) => r.name);
  } finally {
    sqlite.close();
  }
}

/**
 * PostgreSQL: `prisma migrate deploy` cannot run through the pg adapter on Prisma 6.19, so the same SQL files
 * are applied here, each in its own transaction, and recorded in a table of their own.
 * An advisory lock keeps two servers starting at once from applying the same file twice.
 */
async function migratePostgres(url: string, root: string): Promise<MigrationResult> {
  const dir = path.join(root, "prisma", "postgres", "migrations");
  const names = listMigrations(dir);
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`cannot connect to ${redact(url)}: ${(err as Error).message}`);
  }
  const applied: string[] = [];
  try {
    await client.query("SELECT pg_advisory_lock(727384)");
    await client.query(
      'CREATE TABLE IF NOT EXISTS "_tessera_migrations" (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())',
    );
    const done = new Set((await client.query<{ name: string }>('SELECT name FROM "_tessera_migrations"')).rows.map((r) => r.name));
    for (const name of names.filter((n) => !done.has(n))) {
      const sql = fs.readFileSync(path.join(dir, name, "migration.sql"), "utf8");
      try {
        await client.query("BEGIN");
        await client.query(sql);
        await client.query('INSERT INTO "_tessera_migrations" (name) VALUES ($1)', [name]);
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK");
        throw new Error(`migration ${name} failed on ${redact(url)} (rolled back): ${(err as Error).message}`);
      }
      applied.push(name);
    }
  } finally {
    await client.end();
  }
  return { provider: "postgresql", applied };
}

/** Migration folders in the order they must run (their names start with a UTC timestamp). */
export function listMigrations(dir: string): string[] {
  if (!fs.existsSync(dir)) throw new Error(`no migrations folder at ${dir}`);
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(dir, d.name, "migration.sql")))
    .map((d) => d.name)
    .sort();
}
