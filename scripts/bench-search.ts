// Search benchmark: the gallery's search query (lib/db/gallery.ts, as /gallery?q=… runs it: matching page + count
// + items) over 100k finished generations, on SQLite (FTS5 trigram) and, when TESSERA_TEST_PG_URL names a scratch
// PostgreSQL database, on PostgreSQL (pg_trgm). Prints one JSON object: p50/p95 per query kind and overall, ms.
//   npx tsx scripts/bench-search.ts [--rows 100000] [--queries 300]
// Target (issue 13): p95 ≤ 50 ms. For comparison it also times the old unindexed LIKE '%q%' scan on SQLite.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import emoji from "emojibase-data/en/data.json" with { type: "json" };
import pg from "pg";
import { z } from "zod";
import { createDb, type Db } from "../lib/db/client";
import { listGallery } from "../lib/db/gallery";
import { migrate } from "../lib/db/migrate";

const Args = z.object({
  rows: z.coerce.number().int().min(1000).max(1_000_000).default(100_000),
  queries: z.coerce.number().int().min(10).max(10_000).default(300),
});
const flag = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const args = Args.parse({ rows: flag("rows"), queries: flag("queries") });

const STYLES = ["noto", "twemoji", "openmoji", "fluent"];
const LABELS = (emoji as { label: string }[]).map((e) => e.label.toLowerCase());
const prompt = (i: number) => `${LABELS[(i * 7919) % LABELS.length]}, ${STYLES[i % 4]} ${i}`;

/** A reproducible mix: single words, whole labels, a style (a quarter of all rows), short queries, wildcards, misses. */
function queries(n: number): { kind: string; q: string }[] {
  const words = [...new Set(LABELS.flatMap((l) => l.split(/\W+/)).filter((w) => w.length >= 3))];
  const out: { kind: string; q: string }[] = [];
  for (let i = 0; i < n; i++) {
    const r = i % 10;
    if (r < 4) out.push({ kind: "word", q: words[(i * 31) % words.length] });
    else if (r < 6) out.push({ kind: "label", q: LABELS[(i * 17) % LABELS.length] });
    else if (r === 6) out.push({ kind: "style", q: STYLES[i % 4] });
    else if (r === 7) out.push({ kind: "short", q: ["he", "ca", "a", "fa", "mo"][i % 5] });
    else if (r === 8) out.push({ kind: "wildcard", q: ["%", "_", "100%", "a_b", '"x"'][i % 5] });
    else out.push({ kind: "miss", q: `zzq${i}` });
  }
  return out;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] * 10) / 10;
};

async function time(run: (q: string) => Promise<unknown>, qs: { kind: string; q: string }[]) {
  for (const { q } of qs.slice(0, 10)) await run(q); // warm caches
  const byKind = new Map<string, number[]>();
  const all: number[] = [];
  for (const { kind, q } of qs) {
    const t = performance.now();
    await run(q);
    const ms = performance.now() - t;
    all.push(ms);
    byKind.set(kind, [...(byKind.get(kind) ?? []), ms]);
  }
  const kinds = Object.fromEntries([...byKind].map(([k, xs]) => [k, { n: xs.length, p50: pct(xs, 50), p95: pct(xs, 95) }]));
  return { p50: pct(all, 50), p95: pct(all, 95), max: pct(all, 100), kinds };
}

async function seedSqlite(file: string): Promise<void> {
  const sqlite = new Database(file);
  const insert = sqlite.prepare(
    `INSERT INTO "Generation" ("id", "prompt", "params", "seed", "status", "createdAt") VALUES (?, ?, '{}', ?, 'done', ?)`,
  );
  const start = Date.UTC(2026, 0, 1);
  sqlite.transaction(() => {
    for (let i = 0; i < args.rows; i++) insert.run(`bench${i}`, prompt(i), i, start + i * 1000);
  })();
  sqlite.close();
}

async function seedPostgres(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DELETE FROM "Generation" WHERE "id" LIKE 'bench%'`);
    const batch = 5000;
    for (let from = 0; from < args.rows; from += batch) {
      const ids: string[] = [];
      const prompts: string[] = [];
      for (let i = from; i < Math.min(args.rows, from + batch); i++) {
        ids.push(`bench${i}`);
        prompts.push(prompt(i));
      }
      await client.query(
        `INSERT INTO "Generation" ("id", "prompt", "params", "seed", "status", "createdAt")
         SELECT id, p, '{}', 0, 'done', TIMESTAMP '2026-01-01' + (ord * INTERVAL '1 second') FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(id, p, ord)`,
        [ids, prompts],
      );
    }
    await client.query(`ANALYZE "Generation"`);
  } finally {
    await client.end();
  }
}

const gallery = (db: Db) => (q: string) => listGallery(db, { q, page: 1, model: "", pageSize: 24 });

async function main() {
  const qs = queries(args.queries);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-bench-search-"));
  const result: Record<string, unknown> = { rows: args.rows, queries: qs.length, target: { p95Ms: 50 } };
  try {
    const file = path.join(dir, "bench.db");
    await migrate(`file:${file}`);
    let t = performance.now();
    await seedSqlite(file);
    const seedS = Math.round(performance.now() - t) / 1000;
    const db = createDb(`file:${file}`);
    result.sqlite = { seedS, ...(await time(gallery(db), qs)) };
    // The query the gallery ran before issue 13: an unindexed scan (and `%`/`_` as wildcards).
    const old = (q: string) =>
      Promise.all([
        db.generation.count({ where: { status: "done", prompt: { contains: q } } }),
        db.generation.findMany({
          where: { status: "done", prompt: { contains: q } },
          orderBy: { createdAt: "desc" },
          take: 24,
          select: { id: true },
        }),
      ]);
    t = performance.now();
    result.sqliteUnindexedBefore = await time(old, qs.slice(0, Math.min(60, qs.length)));
    await db.$disconnect();
    const pgUrl = process.env.TESSERA_TEST_PG_URL;
    if (pgUrl) {
      await migrate(pgUrl);
      t = performance.now();
      await seedPostgres(pgUrl);
      const seedPg = Math.round(performance.now() - t) / 1000;
      const pdb = createDb(pgUrl);
      result.postgresql = { seedS: seedPg, ...(await time(gallery(pdb), qs)) };
      if (!process.argv.includes("--keep")) await pdb.generation.deleteMany({ where: { id: { startsWith: "bench" } } });
      await pdb.$disconnect();
    } else {
      result.postgresql = "skipped (set TESSERA_TEST_PG_URL to a scratch database)";
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(JSON.stringify(result, null, 2));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
