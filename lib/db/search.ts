// Prompt search for the gallery, index-backed on both databases and literal: the user's text is matched as a
// substring, never as a pattern (`%`, `_`, `\`, quotes and FTS operators are only characters).
// SQLite: the FTS5 trigram index "GenerationSearch" of finished generations (kept by triggers, see the hardening
// migration); page and count come from the index alone, newest first by its rowid (the order jobs finished in).
// PostgreSQL: ILIKE '%q%' over a pg_trgm GIN index. Trigrams need 3 characters: a shorter query falls back to an
// escaped LIKE scan, which is what any substring search of one or two characters costs.
import { Prisma } from "../generated/prisma/client";
import { dbProvider, type Db } from "./client";

export interface SearchFilter {
  /** The text to find in the prompt (already trimmed). */
  q: string;
  /** Only this model version's generations, when set. */
  modelVersionId?: string;
  skip: number;
  take: number;
}

/** Escapes LIKE's wildcards and the escape character itself, for `LIKE … ESCAPE '\'`. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** An FTS5 query matching `text` as one literal phrase: double quotes doubled, the whole in quotes. */
export function ftsPhrase(text: string): string {
  return `"${text.replaceAll('"', '""')}"`;
}

/** Ids of finished generations whose prompt contains `q`, newest first, one page, and how many there are in all. */
export async function searchFinishedGenerations(db: Db, f: SearchFilter): Promise<{ ids: string[]; total: number }> {
  const like = `%${escapeLike(f.q)}%`;
  const trigram = [...f.q].length >= 3;
  const model = f.modelVersionId ? Prisma.sql`AND s."modelVersionId" = ${f.modelVersionId}` : Prisma.empty;
  let from: Prisma.Sql;
  let order: Prisma.Sql;
  if (dbProvider(db) === "sqlite" && trigram) {
    from = Prisma.sql`FROM "GenerationSearch" s WHERE "GenerationSearch" MATCH ${ftsPhrase(f.q)} ${model}`;
    order = Prisma.sql`s."rowid" DESC`;
  } else {
    // SQLite's LIKE has no escape character unless told; PostgreSQL's is the backslash already. ILIKE keeps
    // SQLite's (ASCII) case-insensitivity.
    const match = dbProvider(db) === "sqlite" ? Prisma.sql`s."prompt" LIKE ${like} ESCAPE '\\'` : Prisma.sql`s."prompt" ILIKE ${like}`;
    from = Prisma.sql`FROM "Generation" s WHERE ${match} AND s."status" = 'done' ${model}`;
    order = Prisma.sql`s."createdAt" DESC, s."id" DESC`;
  }
  const [rows, counted] = await Promise.all([
    db.$queryRaw<{ id: string }[]>`SELECT s."id" AS "id" ${from} ORDER BY ${order} LIMIT ${f.take} OFFSET ${f.skip}`,
    db.$queryRaw<{ n: number | bigint }[]>`SELECT COUNT(*) AS "n" ${from}`,
  ]);
  return { ids: rows.map((r) => r.id), total: Number(counted[0]?.n ?? 0) };
}
