// Which database a DATABASE_URL names. Kept free of Prisma imports so that prisma.config.ts,
// the start script and lib/db.ts all read the URL the same way.
import path from "node:path";

/** Where the embedded database lives when DATABASE_URL is unset. */
export const DEFAULT_SQLITE_URL = "file:./data/tessera.db";

export type DatabaseTarget = { provider: "sqlite"; url: string; file: string } | { provider: "postgresql"; url: string };

/**
 * Parses DATABASE_URL: unset or `file:…` → SQLite (relative paths resolve against `cwd`),
 * `postgres://` or `postgresql://` → PostgreSQL. Anything else is an error that says what is accepted.
 */
export function parseDatabaseUrl(raw: string | undefined, cwd: string = process.cwd()): DatabaseTarget {
  const url = raw?.trim() ? raw.trim() : DEFAULT_SQLITE_URL;
  if (url.startsWith("file:")) {
    const rest = url.slice("file:".length).split("?")[0];
    if (!rest) throw new Error(`DATABASE_URL "${url}" names no file; use e.g. ${DEFAULT_SQLITE_URL}`);
    const file = path.resolve(cwd, rest);
    return { provider: "sqlite", url: `file:${file}`, file };
  }
  if (/^postgres(ql)?:\/\//.test(url)) return { provider: "postgresql", url };
  throw new Error(`DATABASE_URL must start with "file:" (SQLite) or "postgresql://" (PostgreSQL); got "${redact(url)}"`);
}

/** For prisma.config.ts: the SQLite URL to give the adapter (the default file when DATABASE_URL is PostgreSQL). */
export function sqliteFileFromUrl(raw: string | undefined): string {
  const target = parseDatabaseUrl(raw);
  return target.provider === "sqlite" ? target.url : parseDatabaseUrl(undefined).url;
}

/** Hides a password in a URL before it reaches a log or an error message. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, "//$1:***@");
}
