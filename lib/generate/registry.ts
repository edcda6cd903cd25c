// Which loaded model serves a generation: any registered ModelVersion by id, or the one marked active in the
// database. Loaded bundles are kept in a small cache keyed by version id (MODELS_LOADED, default 2, the active one
// among them), each loaded once and warmed up; beyond the cap the least recently acquired one is evicted and
// disposed once its last lease is released. When another version becomes active, the next request for the active
// model loads it while jobs holding the old one keep running; the old one stays cached until LRU evicts it.
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import type { Db } from "../db/client";
import { findActiveModelVersion, findModelVersion } from "../db/versions";
import { serverEnv } from "../env";
import { publicMessage } from "../errors";
import { batchSamplerFor } from "./engine";
import { loadModelBundle, type ModelBundle } from "./model-bundle";
import { scoreCandidates } from "./rerank";

export { ensureDefaultVersion, ensureExtraVersions } from "./registration";

export interface ModelLease {
  versionId: string;
  name: string;
  bundle: ModelBundle;
  release(): void;
}

export interface LoadError {
  versionId: string;
  name: string;
  message: string;
}

interface Loaded {
  versionId: string;
  name: string;
  bundle: ModelBundle;
  users: number;
  /** Out of the cache: disposed when its last lease is released. */
  evicted: boolean;
  disposed: boolean;
}

/** acquire(id) for an id no version has (the API checks first; a job's version may be deleted meanwhile). */
export class UnknownModelVersionError extends Error {
  constructor(readonly versionId: string) {
    super(`no model version has the id ${versionId}`);
  }
}

export class ModelRegistry {
  /** Loaded versions, least recently acquired first (a Map keeps insertion order; an acquire moves its entry last). */
  private readonly cache = new Map<string, Loaded>();
  /** Loads in flight, one per version, awaited by every acquire of that version meanwhile. */
  private readonly loading = new Map<string, Promise<Loaded>>();
  private readonly errors = new Map<string, LoadError>();
  /** The version last seen marked active by an acquire. */
  private activeId: string | null = null;

  constructor(
    private readonly db: Db,
    private readonly root = process.cwd(),
    /** Versions kept loaded at once (MODELS_LOADED). */
    readonly capacity = 2,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`a model registry holds at least 1 model, not ${capacity}`);
  }

  /** Why the last attempt to load the active version failed (cleared by its next successful load), for health. */
  get loadError(): LoadError | null {
    return this.activeId ? (this.errors.get(this.activeId) ?? null) : null;
  }

  /** Why the last attempt to load this version failed, or null (cleared by its next successful load). */
  loadErrorOf(versionId: string): LoadError | null {
    return this.errors.get(versionId) ?? null;
  }

  /** The name of the active version when it is loaded, else null. */
  get loadedName(): string | null {
    return (this.activeId && this.cache.get(this.activeId)?.name) || null;
  }

  /** Ids of the versions in the cache, least recently acquired first. */
  get loadedIds(): string[] {
    return [...this.cache.keys()];
  }

  /**
   * The version with this id (any registered one) or, without an id, the active one — loaded if needed, which may
   * evict the least recently used other; call release() when the job is done.
   */
  async acquire(versionId?: string): Promise<ModelLease> {
    const version = versionId ? await findModelVersion(this.db, versionId) : await findActiveModelVersion(this.db);
    if (!version) {
      if (versionId) throw new UnknownModelVersionError(versionId);
      throw new Error("no model version is active: train one (npm run retrain) or activate one on /models");
    }
    if (version.active) this.activeId = version.id;
    for (;;) {
      const cached = this.cache.get(version.id);
      const entry = cached ?? (await this.loadOnce(version.id, version.name, version.path));
      // Evicted by a later load between its arrival and now, with no lease to keep it: load it again.
      if (entry.disposed) continue;
      if (!entry.evicted) {
        this.cache.delete(entry.versionId);
        this.cache.set(entry.versionId, entry);
      }
      return this.lease(entry);
    }
  }

  private lease(entry: Loaded): ModelLease {
    entry.users++;
    let released = false;
    return {
      versionId: entry.versionId,
      name: entry.name,
      bundle: entry.bundle,
      release: () => {
        if (released) return;
        released = true;
        entry.users--;
        if (entry.evicted && entry.users === 0) this.free(entry);
      },
    };
  }

  private loadOnce(versionId: string, name: string, dir: string): Promise<Loaded> {
    let pending = this.loading.get(versionId);
    if (!pending) {
      pending = this.load(versionId, name, dir)
        .then(
          (loaded) => {
            this.errors.delete(versionId);
            this.cache.set(versionId, loaded);
            this.evictBeyondCapacity();
            return loaded;
          },
          (err: unknown) => {
            this.errors.set(versionId, { versionId, name, message: publicMessage(err) });
            throw err;
          },
        )
        .finally(() => this.loading.delete(versionId));
      this.loading.set(versionId, pending);
    }
    return pending;
  }

  private evictBeyondCapacity(): void {
    for (const [id, entry] of this.cache) {
      if (this.cache.size <= this.capacity) break;
      this.cache.delete(id);
      this.retire(entry);
    }
  }

  private async load(versionId: string, name: string, dir: string): Promise<Loaded> {
    const bundle = await loadModelBundle(path.resolve(this.root, dir));
    // One tiny generation on the serving engine compiles kernels (tfjs) or builds the ONNX graphs and sessions, and
    // allocates buffers, so the first user does not pay for it.
    const sample = await batchSamplerFor(serverEnv().GENERATION_ENGINE);
    const c = bundle.transformer.config;
    await sample(bundle.transformer, [bundle.text.encodeNull(c.textLen)], bundle.text.encodeNull(c.textLen), {
      n: 1,
      guidance: 1,
      temperature: 1,
      seed: 0,
    });
    if (bundle.clip) {
      // The same for the CLIP that reranks: one blank candidate.
      const size = bundle.clip.model.config.imageSize;
      const blank = tf.ones([1, size, size, 3]) as tf.Tensor4D; // [1, S, S, 3]
      await scoreCandidates(bundle.clip, "", blank).finally(() => blank.dispose());
    }
    return { versionId, name, bundle, users: 0, evicted: false, disposed: false };
  }

  private retire(entry: Loaded): void {
    entry.evicted = true;
    if (entry.users === 0) this.free(entry);
  }

  private free(entry: Loaded): void {
    if (entry.disposed) return;
    entry.disposed = true;
    entry.bundle.dispose();
  }

  /** Unloads every cached version (those still leased once their last lease is released); loads in flight still land. */
  dispose(): void {
    for (const entry of this.cache.values()) this.retire(entry);
    this.cache.clear();
  }
}
