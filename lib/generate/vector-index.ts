// The in-memory vector index of search by meaning and "more like this": one HNSW graph (usearch) per model version
// — each version's CLIP has its own embedding space — over the unit image embeddings, searched by inner product
// (= cosine). Chosen over a scan by measurement (scripts/bench-vector.ts; README "Search by meaning at scale"): at
// 1M images a search is well under a millisecond with recall@10 ≈ 1 where a scan costs tens of ms, and it is a plain
// npm package whose tarball carries the linux/macOS/Windows binaries (nothing downloaded at install). It lives in a
// worker thread (./vector-index-thread.ts); brute force (lib/db/semantic-search.ts nearestGenerations) is the oracle.
import { createRequire } from "node:module";
import type usearchModule from "usearch";
import type { Neighbour } from "../db/semantic-search";

// The CommonJS build: usearch's ESM build finds its binary from a stack trace, which fails under Vitest's transform.
const usearch = createRequire(import.meta.url)("usearch") as typeof usearchModule;
const { Index, MetricKind, ScalarKind } = usearch;

/**
 * HNSW parameters: M = 16 links per node, efConstruction = 64, efSearch = 128. f32 vectors, not i8: at 128 floats a
 * million images take 0.5 GB either way with the graph, and i8 lost recall (0.92 at 100k in the bench) that the
 * target (≥ 0.95) needs.
 */
export const HNSW = { connectivity: 16, expansionAdd: 64, expansionSearch: 128 } as const;

type Entry = { imageId: string; generationId: string };

/** One model version's images. */
export class VersionIndex {
  private readonly index: InstanceType<typeof Index>;
  private readonly byKey = new Map<number, Entry>();
  private readonly keyOf = new Map<string, number>();
  private nextKey = 0;

  constructor(readonly dimensions: number) {
    this.index = new Index({
      dimensions,
      metric: MetricKind.IP,
      quantization: ScalarKind.F32,
      connectivity: HNSW.connectivity,
      expansion_add: HNSW.expansionAdd,
      expansion_search: HNSW.expansionSearch,
      multi: false,
    });
  }

  get size(): number {
    return this.byKey.size;
  }

  has(imageId: string): boolean {
    return this.keyOf.has(imageId);
  }

  /** Adds images not yet in (an image already in is left as is: rows never change their embedding). */
  add(images: { imageId: string; generationId: string; embedding: Float32Array }[]): void {
    const fresh = images.filter((i) => i.embedding.length === this.dimensions && !this.keyOf.has(i.imageId));
    if (!fresh.length) return;
    const keys = new BigUint64Array(fresh.length);
    // One copied matrix: usearch reads a typed array from its buffer's start, so a subarray view would be misread.
    const vectors = new Float32Array(fresh.length * this.dimensions);
    fresh.forEach((img, i) => {
      const key = this.nextKey++;
      keys[i] = BigInt(key);
      vectors.set(img.embedding, i * this.dimensions);
      this.byKey.set(key, { imageId: img.imageId, generationId: img.generationId });
      this.keyOf.set(img.imageId, key);
    });
    // One thread: the index shares the machine with the web thread and the generation threads.
    this.index.add(keys, vectors, 1);
  }

  remove(imageIds: Iterable<string>): void {
    for (const id of imageIds) {
      const key = this.keyOf.get(id);
      if (key === undefined) continue;
      this.index.remove(BigInt(key));
      this.keyOf.delete(id);
      this.byKey.delete(key);
    }
  }

  /**
   * Candidate generations ranked by their closest image to `query`, most similar first (ties by id, as the scan),
   * leaving out `exclude`; at most `topK`.
   * A generation has several kept images, so the graph is asked for more images than generations wanted, and again
   * for more when they collapse to too few generations.
   */
  search(query: Float32Array, topK: number, exclude?: string): Neighbour[] {
    if (topK <= 0 || this.size === 0 || query.length !== this.dimensions) return [];
    const q = Float32Array.from(query);
    for (let k = Math.min(this.size, topK * 4 + 8); ; k = Math.min(this.size, k * 4)) {
      const m = this.index.search(q, k, 1);
      const best = new Map<string, Neighbour>();
      for (let i = 0; i < m.keys.length; i++) {
        const e = this.byKey.get(Number(m.keys[i]));
        if (!e || e.generationId === exclude) continue;
        const similarity = 1 - m.distances[i]; // usearch's ip distance is 1 − dot
        const seen = best.get(e.generationId);
        if (!seen || similarity > seen.similarity)
          best.set(e.generationId, { generationId: e.generationId, imageId: e.imageId, similarity });
      }
      if (best.size >= topK || k >= this.size)
        return [...best.values()].sort((a, b) => b.similarity - a.similarity || (a.generationId < b.generationId ? -1 : 1)).slice(0, topK);
    }
  }
}

/** Every version's index, created on a version's first image. */
export class VectorIndexes {
  readonly versions = new Map<string, VersionIndex>();
  private readonly versionOf = new Map<string, string>();

  get size(): number {
    let n = 0;
    for (const v of this.versions.values()) n += v.size;
    return n;
  }

  has(imageId: string): boolean {
    return this.versionOf.has(imageId);
  }

  add(images: { imageId: string; generationId: string; modelVersionId: string; embedding: Float32Array }[]): void {
    const byVersion = new Map<string, typeof images>();
    for (const img of images) {
      const list = byVersion.get(img.modelVersionId);
      if (list) list.push(img);
      else byVersion.set(img.modelVersionId, [img]);
    }
    for (const [versionId, imgs] of byVersion) {
      let v = this.versions.get(versionId);
      if (!v) this.versions.set(versionId, (v = new VersionIndex(imgs[0].embedding.length)));
      v.add(imgs);
      for (const img of imgs) if (v.has(img.imageId)) this.versionOf.set(img.imageId, versionId);
    }
  }

  remove(imageIds: string[]): void {
    for (const id of imageIds) {
      const versionId = this.versionOf.get(id);
      if (versionId === undefined) continue;
      this.versions.get(versionId)?.remove([id]);
      this.versionOf.delete(id);
    }
  }

  search(versionId: string, query: Float32Array, topK: number, exclude?: string): Neighbour[] {
    return this.versions.get(versionId)?.search(query, topK, exclude) ?? [];
  }
}
