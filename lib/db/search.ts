// Prompt search for the gallery, index-backed on both databases and literal: the user's text is matched as a
// substring, never as a pattern (`%`, `_`, `\`, quotes and FTS operators are only characters).
// SQLite: the FTS5 trigram index "GenerationSearch" (kept by triggers, see the hardening migration).
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
  const model = f.modelVersionId ? Prisma.sql`AND g."modelVersionId" = ${f.modelVersionId}` : Prisma.empty;
  const like = `%${escapeLike(f.q)}%`;
  const trigram = [...f.q].length >= 3;
  let from: Prisma.Sql;
  if (dbProvider(db) === "sqlite") {
    from = trigram
      ? Prisma.sql`FROM "GenerationSearch" s JOIN "Generation" g ON g."id" = s."id" WHERE "GenerationSearch" MATCH ${ftsPhrase(f.q)} AND g."status" = 'done' ${model}`
      : Prisma.sql`FROM "Generation" g WHERE g."prompt" LIKE ${like} ESCAPE '\\' AND g."status" = 'done' ${model}`;
  } else {
    // PostgreSQL's LIKE escape character is the backslash by default; ILIKE keeps SQLite's case-insensitivity.
    from = Prisma.sql`FROM "Generation" g WHERE g."prompt" ILIKE ${like} AND g."status" = 'done' ${model}`;
  }
  const [rows, counted] = await Promise.all([
    db.$queryRaw<{ id: string }[]>`SELECT g."id" AS "id" ${from} ORDER BY g."createdAt" DESC, g."id" DESC LIMIT ${f.take} OFFSET ${f.skip}`,
    db.$queryRaw<{ n: number | bigint }[]>`SELECT COUNT(*) AS "n" ${from}`,
  ]);
  return { ids: rows.map((r) => r.id), total: Number(counted[0]?.n ?? 0) };
}
