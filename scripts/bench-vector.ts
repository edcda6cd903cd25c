// Search by meaning at scale (issue 30): seeded synthetic galleries of kept images with 128-wide clustered unit
// embeddings, on SQLite and (when TESSERA_TEST_PG_URL names a PostgreSQL database) PostgreSQL. For each size it
// starts the vector index's worker thread on the database (lib/generate/vector-search.ts) and prints one JSON object:
// index build time and memory (the process's RSS growth: the thread's index, its pages, its client), search by
// meaning (a query vector) and more-like-this (lib/generate/semantic.ts, as the detail page runs it) p50/p95 in ms,
// recall@10 of both against brute force (nearestGenerations over every embedding), and the web thread's health
// while 8 viewers load more-like-this concurrently: the p95 of the database round trip /api/health makes (pingDb)
// and of the event loop's delay.
//   npx tsx scripts/bench-vector.ts [--sizes 10000,100000,1000000] [--queries 200] [--recall 100] [--viewers 8] [--sqlite-only]
//     [--pause PID]
// Targets: at 1M, p95 ≤ 50 ms and recall@10 ≥ 0.95; health p95 ≤ 50 ms. Needs a quiet machine for the timings:
// --pause PID stops that process (e.g. a background training run, SIGSTOP) for the timed parts only — the searches
// and the viewers — and resumes it (SIGCONT) after, so seeding, the index build and the recall scan share the
// machine with it (their times are then busy figures; the JSON says which parts were quiet).
// PostgreSQL rows are written under the id prefix "bv" and model version "bench-vector", and deleted afterwards.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { z } from "zod";
import Database from "better-sqlite3";
import pg from "pg";
import { createDb, dbTarget, pingDb, type Db } from "../lib/db/client";
import { embeddingBytes, embeddingOf } from "../lib/db/images";
import { migrate } from "../lib/db/migrate";
import { nearestGenerations, type EmbeddedImage } from "../lib/db/semantic-search";
import { mulberry32 } from "../lib/data/rng";
import { embeddingStream } from "../lib/db/embedding-fixture";
import { moreLikeThis } from "../lib/generate/semantic";
import { VectorSearch } from "../lib/generate/vector-search";

const flag = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const Args = z.object({
  sizes: z
    .string()
    .default("10000,100000,1000000")
    .transform((s) => s.split(",").map(Number))
    .pipe(z.array(z.number().int().min(100).max(2_000_000)).min(1)),
  queries: z.coerce.number().int().min(10).max(100_000).default(200),
  recall: z.coerce.number().int().min(1).max(10_000).default(100),
  viewers: z.coerce.number().int().min(1).max(256).default(8),
  pause: z.coerce.number().int().positive().optional(),
});
const args = Args.parse({
  sizes: flag("sizes"),
  queries: flag("queries"),
  recall: flag("recall"),
  viewers: flag("viewers"),
  pause: flag("pause"),
});

/** Runs `fn` with the --pause process stopped (a no-op without the flag); it is resumed even if `fn` throws. */
async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  if (!args.pause) return fn();
  process.kill(args.pause, "SIGSTOP");
  try {
    await new Promise((r) => setTimeout(r, 500)); // let its threads leave the cores
    return await fn();
  } finally {
    process.kill(args.pause, "SIGCONT");
  }
}
const DIM = 128;
const VERSION = "bench-vector";
const PREFIX = "bv";
const BATCH = 5000;

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] * 100) / 100;
};
const mb = (bytes: number) => Math.round(bytes / 1e6);

/**
 * `rows` finished generations with one kept image each (one image per generation, so recall is per image too),
 * written with the drivers directly (Prisma's createMany would take most of an hour at 1M).
 */
async function seed(db: Db, url: string, rows: number): Promise<void> {
  await db.modelVersion.upsert({
    where: { id: VERSION },
    create: { id: VERSION, name: VERSION, kind: "dalle", path: VERSION, config: {} },
    update: {},
  });
  const next = embeddingStream(DIM, Math.max(10, Math.floor(rows / 100)), rows);
  const start = Date.now() - rows; // one ms apart, in the past: the index's catch-up window holds none of them
  const stamp = (i: number) => new Date(start + i).toISOString().replace("Z", "+00:00"); // the adapter's format
  const target = dbTarget(db);
  if (target.provider === "sqlite") {
    const sqlite = new Database(target.file);
    const gen = sqlite.prepare(
      `INSERT INTO "Generation" ("id","prompt","params","seed","status","modelVersionId","createdAt") VALUES (?,?,'{}',0,'done',?,?)`,
    );
    const img = sqlite.prepare(
      `INSERT INTO "Image" ("id","generationId","index","png","width","height","rejected","embedding","createdAt") VALUES (?,?,0,x'',1,1,0,?,?)`,
    );
    sqlite.transaction(() => {
      for (let i = 0; i < rows; i++) {
        gen.run(`${PREFIX}${i}`, `${PREFIX}${i}`, VERSION, stamp(i));
        img.run(`${PREFIX}${i}i`, `${PREFIX}${i}`, Buffer.from(embeddingBytes(next())), stamp(i));
      }
    })();
    sqlite.close();
    return;
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (let from = 0; from < rows; from += BATCH) {
      const n = Math.min(BATCH, rows - from);
      const ids = Array.from({ length: n }, (_, i) => `${PREFIX}${from + i}`);
      const times = ids.map((_, i) => new Date(start + from + i).toISOString());
      await client.query(
        `INSERT INTO "Generation" ("id","prompt","params","seed","status","modelVersionId","createdAt")
         SELECT id, id, '{}', 0, 'done', $2, t FROM unnest($1::text[], $3::timestamp[]) AS u(id, t)`,
        [ids, VERSION, times],
      );
      await client.query(
        `INSERT INTO "Image" ("id","generationId","index","png","width","height","rejected","embedding","createdAt")
         SELECT id || 'i', id, 0, ''::bytea, 1, 1, false, e, t FROM unnest($1::text[], $2::bytea[], $3::timestamp[]) AS u(id, e, t)`,
        [ids, ids.map(() => Buffer.from(embeddingBytes(next()))), times],
      );
    }
    await client.query(`ANALYZE "Image"`);
  } finally {
    await client.end();
  }
}

async function clear(db: Db): Promise<void> {
  // Cascades to the images; in pages, so that PostgreSQL never holds a million-row delete in one statement.
  for (;;) {
    const page = await db.generation.findMany({ where: { modelVersionId: VERSION }, select: { id: true }, take: 20_000 });
    if (!page.length) break;
    await db.generation.deleteMany({ where: { id: { in: page.map((p) => p.id) } } });
  }
  await db.modelVersion.deleteMany({ where: { id: VERSION } });
}

/** Every embedding of the version, in one buffer (the oracle's input; Prisma objects for 1M rows would not fit well). */
async function allEmbeddings(db: Db): Promise<EmbeddedImage[]> {
  const out: EmbeddedImage[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await db.image.findMany({
      where: { generation: { modelVersionId: VERSION }, ...(after ? { id: { gt: after } } : {}) },
      orderBy: { id: "asc" },
      take: 20_000,
      select: { id: true, generationId: true, embedding: true },
    });
    if (!page.length) return out;
    for (const r of page) out.push({ imageId: r.id, generationId: r.generationId, embedding: embeddingOf(r.embedding!) });
    after = page[page.length - 1].id;
  }
}

async function measure(db: Db, url: string, rows: number) {
  const t0 = performance.now();
  await seed(db, url, rows);
  const seedS = Math.round(performance.now() - t0) / 1000;
  console.error(JSON.stringify({ rows, seeded: seedS }));
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  const vs = new VectorSearch(url, { pollMs: 1000 });
  const t1 = performance.now();
  const state = await vs.state(); // resolves when the first build has read every row
  console.error(JSON.stringify({ rows, built: state }));
  const build = {
    s: Math.round(performance.now() - t1) / 1000,
    threadBuildS: Math.round(state.buildMs ?? 0) / 1000,
    images: state.images,
    rssGrowthMb: mb(process.memoryUsage().rss - rss0),
  };
  try {
    const rand = mulberry32(rows + 1);
    const queryVec = embeddingStream(DIM, Math.max(10, Math.floor(rows / 100)), rows); // same centres as the gallery
    const queries = Array.from({ length: args.queries }, queryVec);
    const gens = Array.from({ length: args.queries }, () => `${PREFIX}${Math.floor(rand() * rows)}`);
    const meaningMs: number[] = [];
    const meaning: string[][] = [];
    const likeMs: number[] = [];
    const like: string[][] = [];
    const pings: number[] = [];
    const loop = monitorEventLoopDelay({ resolution: 5 });
    await quietly(async () => {
      for (const q of queries.slice(0, 10)) await vs.search(VERSION, q, 10); // warm up
      for (const q of queries) {
        const t = performance.now();
        meaning.push((await vs.search(VERSION, q, 10)).map((n) => n.generationId));
        meaningMs.push(performance.now() - t);
      }
      for (const g of gens) {
        const t = performance.now();
        like.push((await moreLikeThis(db, g, 10, vs)).map((n) => n.generationId));
        likeMs.push(performance.now() - t);
      }
      // Health while `viewers` detail pages load more-like-this back to back.
      let stop = false;
      loop.enable();
      const viewers = Array.from({ length: args.viewers }, async (_, v) => {
        for (let i = v; !stop; i += args.viewers) await moreLikeThis(db, gens[i % gens.length], 10, vs);
      });
      const until = performance.now() + 5000;
      while (performance.now() < until) {
        const t = performance.now();
        await pingDb(db);
        pings.push(performance.now() - t);
        await new Promise((r) => setTimeout(r, 20));
      }
      stop = true;
      await Promise.all(viewers);
      loop.disable();
    });
    // Recall@10 against brute force over every embedding (a sample of the queries: the scan is the slow part).
    const images = await allEmbeddings(db);
    const byGen = new Map(images.map((i) => [i.generationId, i.embedding]));
    let hitsM = 0;
    let hitsL = 0;
    const n = Math.min(args.recall, queries.length);
    for (let i = 0; i < n; i++) {
      const want = new Set(nearestGenerations(images, queries[i], 10).map((x) => x.generationId));
      hitsM += meaning[i].filter((g) => want.has(g)).length;
      const wantL = new Set(nearestGenerations(images, byGen.get(gens[i])!, 10, gens[i]).map((x) => x.generationId));
      hitsL += like[i].filter((g) => wantL.has(g)).length;
    }
    return {
      rows,
      seedS,
      build,
      searchByMeaning: { p50: pct(meaningMs, 50), p95: pct(meaningMs, 95), recallAt10: hitsM / (n * 10) },
      moreLikeThis: { p50: pct(likeMs, 50), p95: pct(likeMs, 95), recallAt10: hitsL / (n * 10) },
      healthUnderViewers: {
        viewers: args.viewers,
        pingP50: pct(pings, 50),
        pingP95: pct(pings, 95),
        eventLoopDelayP95: Math.round(loop.percentile(95) / 1e4) / 100,
      },
    };
  } finally {
    await vs.close();
  }
}

async function main() {
  const result: Record<string, unknown> = {
    dim: DIM,
    quiet: args.pause ? `searches and viewers only (pid ${args.pause} stopped for them)` : "no process paused",
    queries: args.queries,
    target: { p95Ms: 50, recallAt10: 0.95, healthP95Ms: 50 },
    cpus: os.cpus().length,
    loadavg: os.loadavg(),
  };
  const sqlite: unknown[] = [];
  const postgresql: unknown[] = [];
  for (const rows of args.sizes) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-bench-vector-"));
    try {
      const url = `file:${path.join(dir, "bench.db")}`;
      await migrate(url);
      const db = createDb(url);
      sqlite.push(await measure(db, url, rows));
      await db.$disconnect();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const pgUrl = process.env.TESSERA_TEST_PG_URL;
    if (pgUrl && !process.argv.includes("--sqlite-only")) {
      await migrate(pgUrl);
      const db = createDb(pgUrl);
      try {
        await clear(db);
        postgresql.push(await measure(db, pgUrl, rows));
      } finally {
        await clear(db);
        await db.$disconnect();
      }
    }
    console.error(JSON.stringify({ done: rows }));
  }
  result.sqlite = sqlite;
  result.postgresql = postgresql.length ? postgresql : "skipped (set TESSERA_TEST_PG_URL to a PostgreSQL database)";
  console.log(JSON.stringify(result, null, 2));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
