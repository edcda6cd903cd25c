// The SQLite schema (prisma/schema.prisma) is the one we edit; the PostgreSQL schema is derived from it so that
// both providers always share one data model. Also knows where each provider's migrations live.
import fs from "node:fs";
import path from "node:path";

export const SQLITE_SCHEMA = path.join("prisma", "schema.prisma");
export const POSTGRES_SCHEMA = path.join("prisma", "postgres", "schema.prisma");
/** The data model that the newest checked-in migrations produce; `npm run db:migration` diffs against it. */
export const SNAPSHOT_SCHEMA = path.join("prisma", "snapshot.prisma");
export const MIGRATIONS = { sqlite: path.join("prisma", "migrations"), postgresql: path.join("prisma", "postgres", "migrations") };

const HEADER = "// GENERATED from prisma/schema.prisma by `npm run db:migration`: edit that file, not this one.\n";

/** Rewrites the SQLite schema for PostgreSQL: provider, client output folder, and a placeholder URL. */
export function derivePostgresSchema(sqlite: string): string {
  const provider = /provider\s*=\s*"sqlite"/;
  const output = /output\s*=\s*"\.\.\/lib\/generated\/prisma"/;
  const url = /url\s*=\s*"file:[^"]*"/;
  for (const [what, re] of [
    ["provider", provider],
    ["output", output],
    ["url", url],
  ] as const) {
    if (!re.test(sqlite)) throw new Error(`${SQLITE_SCHEMA}: expected the SQLite ${what} line (${re.source})`);
  }
  return (
    HEADER +
    sqlite
      .replace(provider, 'provider = "postgresql"')
      .replace(output, 'output       = "../../lib/generated/prisma-pg"')
      .replace(url, 'url      = "postgresql://localhost/tessera"')
  );
}

export function readText(root: string, file: string): string {
  return fs.readFileSync(path.join(root, file), "utf8");
}
