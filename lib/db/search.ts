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
  /** Count matches up to this many (default 1000), so a common word costs no more than a rare one. */
  countCap?: number;
  /**
   * "new" (default): newest first. "typical" / "atypical": by the cover image's bits/dim (lib/generate/typicality.ts),
   * lowest / highest first, unscored ones last, newest first among equals; the matches are sorted, not index-walked.
   */
  order?: GalleryOrder;
}

export type GalleryOrder = "new" | "typical" | "atypical";

/** ORDER BY terms that put generations in their cover's (index 0, the first kept image's) bits/dim order. */
function typicalityOrder(order: GalleryOrder | undefined): Prisma.Sql {
  if (!order || order === "new") return Prisma.empty;
  const cover = Prisma.sql`(SELECT i."bitsPerDim" FROM "Image" i WHERE i."generationId" = s."id" AND i."index" = 0)`;
  return order === "typical" ? Prisma.sql`${cover} ASC NULLS LAST, ` : Prisma.sql`${cover} DESC NULLS LAST, `;
}

export interface SearchResult {
  ids: string[];
  /** Matches in all, or `countCap` when there are more (then `capped` is true). */
  total: number;
  capped: boolean;
}

/** Escapes LIKE's wildcards and the escape character itself, for `LIKE … ESCAPE '\'`. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** An FTS5 query matching `text` as one literal phrase: double quotes doubled, the whole in quotes. */
export function ftsPhrase(text: string): string {
  return `"${text.replaceAll('"', '""')}"`;
}

/** Ids of finished generations whose prompt contains `q`, newest first (or in `order`), one page, and how many in all. */
export async function searchFinishedGenerations(db: Db, f: SearchFilter): Promise<SearchResult> {
  const sqlite = dbProvider(db) === "sqlite";
  const model = f.modelVersionId ? Prisma.sql`AND s."modelVersionId" = ${f.modelVersionId}` : Prisma.empty;
  const first = typicalityOrder(f.order);
  const page = (from: Prisma.Sql, order: Prisma.Sql) =>
    db.$queryRaw<{ id: string }[]>`SELECT s."id" AS "id" ${from} ORDER BY ${first}${order} LIMIT ${f.take} OFFSET ${f.skip}`;
  const cap = f.countCap ?? 1000;
  const count = async (from: Prisma.Sql) => {
    const n = Number(
      (await db.$queryRaw<{ n: number | bigint }[]>`SELECT COUNT(*) AS "n" FROM (SELECT 1 ${from} LIMIT ${cap + 1}) AS "matches"`)[0]?.n ??
        0,
    );
    return { total: Math.min(n, cap), capped: n > cap };
  };

  if ([...f.q].length >= 3) {
    // The index does the work: FTS5 alone on SQLite (newest first = highest rowid), pg_trgm's GIN on PostgreSQL.
    const from = sqlite
      ? Prisma.sql`FROM "GenerationSearch" s WHERE "GenerationSearch" MATCH ${ftsPhrase(f.q)} ${model}`
      : Prisma.sql`FROM "Generation" s WHERE s."prompt" ILIKE ${`%${escapeLike(f.q)}%`} AND s."status" = 'done' ${model}`;
    const rows = await page(from, sqlite ? Prisma.sql`s."rowid" DESC` : Prisma.sql`s."createdAt" DESC`);
    // A first page that is not full is the whole result: no need to count.
    const counted = f.skip === 0 && rows.length < f.take ? { total: rows.length, capped: false } : await count(from);
    return { ids: rows.map((r) => r.id), ...counted };
  }

  // One or two characters: no trigram to look up, so scan — the narrow (status, prompt) index rather than the
  // table. lower() LIKE on PostgreSQL keeps the planner off the GIN index, which cannot help a pattern this short.
  const like = `%${escapeLike(f.q)}%`;
  const match = sqlite ? Prisma.sql`s."prompt" LIKE ${like} ESCAPE '\\'` : Prisma.sql`lower(s."prompt") LIKE lower(${like})`;
  const from = Prisma.sql`FROM "Generation" s WHERE s."status" = 'done' AND ${match} ${model}`;
  const counted = await count(from);
  // Few matches: find them through the prompt index and sort them; many: walk the newest first until a page is full.
  const few =
    sqlite && !counted.capped
      ? Prisma.sql`FROM "Generation" s INDEXED BY "Generation_status_prompt_idx" WHERE s."status" = 'done' AND ${match} ${model}`
      : from;
  const rows = counted.total === 0 ? [] : await page(few, Prisma.sql`s."createdAt" DESC`);
  return { ids: rows.map((r) => r.id), ...counted };
}
