// Keeps a VectorIndexes current with the database: built from every searchable image at start (in pages, so that
// searches are answered between them), then caught up every `pollMs` with the images that landed since, whoever
// wrote them: this server's generation threads or another server on the same PostgreSQL. A search never waits for
// a catch-up (one costs a query over the recent rows); so a new image is searchable within about `pollMs`.
// The database stays the truth: each search's candidates are checked against it, and those gone (a generation
// deleted) leave the index.
//
// The catch-up reads the rows created since the newest it has seen, less `overlapMs`: Image.createdAt is stamped by
// the writing server's clock before its transaction commits, so a row can become visible after a newer one was
// seen. The overlap covers commit delay and clock skew between servers up to that much; rows already indexed are
// skipped by id, so only their ids are re-read.
import { setImmediate as tick } from "node:timers/promises";
import type { Db } from "../db/client";
import { embeddedSince, embeddingsAfter, embeddingsOf, stillSearchable } from "../db/embedding-feed";
import { findGenerationEmbedding, type Neighbour } from "../db/semantic-search";
import { VectorIndexes } from "./vector-index";

export interface KeeperOptions {
  /** Rows read per page while building (default 5,000). */
  pageSize?: number;
  /** How far back each catch-up looks before the newest row seen (default 60 s). */
  overlapMs?: number;
  /** Catch-up period: how long a new image may take to become searchable (default 1 s; 0: only on catchUp()). */
  pollMs?: number;
  /** A search made while the index is still being built waits this long for it, then answers from what is in. */
  warmWaitMs?: number;
}

export interface KeeperState {
  images: number;
  versions: number;
  built: boolean;
  buildMs: number | null;
  lastCatchUpAt: number | null;
}

export class IndexKeeper {
  readonly indexes = new VectorIndexes();
  /** Resolves when the first build has read every row. */
  readonly ready: Promise<void>;
  private since: number;
  private catching: Promise<void> | null = null;
  private buildMs: number | null = null;
  private lastCatchUpAt: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly o: Required<KeeperOptions>;

  constructor(
    private readonly db: Db,
    options: KeeperOptions = {},
  ) {
    this.o = { pageSize: 5000, overlapMs: 60_000, pollMs: 1000, warmWaitMs: 2000, ...options };
    // Rows committed while the build walks past them are left to the catch-up, which starts from here.
    this.since = Date.now();
    this.ready = this.build();
    this.ready.catch(() => {}); // reported through search()
    if (this.o.pollMs > 0) {
      this.timer = setInterval(() => this.catchUp().catch(() => {}), this.o.pollMs);
      this.timer.unref();
    }
  }

  state(): KeeperState {
    return {
      images: this.indexes.size,
      versions: this.indexes.versions.size,
      built: this.buildMs !== null,
      buildMs: this.buildMs,
      lastCatchUpAt: this.lastCatchUpAt,
    };
  }

  private async build(): Promise<void> {
    const started = performance.now();
    let after: string | null = null;
    for (;;) {
      const page = await embeddingsAfter(this.db, after, this.o.pageSize);
      if (!page.length) break;
      this.indexes.add(page);
      after = page[page.length - 1].imageId;
      await tick(); // let searches in
    }
    this.buildMs = performance.now() - started;
  }

  /** Adds the images that landed since the last look (one catch-up at a time; callers share the one running). */
  catchUp(): Promise<void> {
    this.catching ??= this.readNew().finally(() => (this.catching = null));
    return this.catching;
  }

  private async readNew(): Promise<void> {
    const startedAt = Date.now();
    const rows = await embeddedSince(this.db, new Date(this.since - this.o.overlapMs));
    const missing = rows.filter((r) => !this.indexes.has(r.id)).map((r) => r.id);
    for (let i = 0; i < missing.length; i += this.o.pageSize)
      this.indexes.add(await embeddingsOf(this.db, missing.slice(i, i + this.o.pageSize)));
    for (const r of rows) this.since = Math.max(this.since, r.createdAt.getTime());
    this.lastCatchUpAt = startedAt;
  }

  /** Generations of `versionId` nearest to `query` (as nearestGenerations ranks them), each checked against the database. */
  async search(versionId: string, query: Float32Array, topK: number, exclude?: string): Promise<Neighbour[]> {
    await Promise.race([this.ready, new Promise((r) => setTimeout(r, this.o.warmWaitMs).unref())]);
    for (let attempt = 0; ; attempt++) {
      const found = this.indexes.search(versionId, query, topK, exclude);
      const live = await stillSearchable(
        this.db,
        found.map((n) => n.imageId),
      );
      const gone = found.filter((n) => !live.has(n.imageId)).map((n) => n.imageId);
      if (!gone.length || attempt >= 3) return found.filter((n) => live.has(n.imageId));
      this.indexes.remove(gone); // deleted since it was indexed: ask again without them
    }
  }

  /** Other generations of the same version nearest to this one's best kept image (none when it has no embedding). */
  async moreLikeThis(generationId: string, topK: number): Promise<Neighbour[]> {
    const own = await findGenerationEmbedding(this.db, generationId);
    return own ? this.search(own.modelVersionId, own.embedding, topK, generationId) : [];
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
