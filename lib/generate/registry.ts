// Which model serves generations: the ModelVersion marked active in the database (the shipped models/default is
// registered on first start). Loaded once and warmed up; when another version becomes active, the next request
// loads it while the old one keeps serving, then swaps atomically; the old one is disposed once its last job ends.
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import type { Db } from "../db/client";
import { countModelVersions, createModelVersion, findActiveModelVersion } from "../db/versions";
import { publicMessage } from "../errors";
import { readCheckpointManifest } from "../model/checkpoint";
import { loadModelBundle, type ModelBundle } from "./model-bundle";
import { scoreCandidates } from "./rerank";

export interface ModelLease {
  versionId: string;
  name: string;
  bundle: ModelBundle;
  release(): void;
}

interface Loaded {
  versionId: string;
  name: string;
  bundle: ModelBundle;
  users: number;
  retired: boolean;
}

/** Registers a shipped model folder as the active version when the database has none yet. */
export async function ensureDefaultVersion(db: Db, dir: string, root = process.cwd()): Promise<void> {
  if ((await countModelVersions(db)) > 0) return;
  const manifest = readCheckpointManifest(path.resolve(root, dir));
  await createModelVersion(db, {
    name: path.basename(dir),
    kind: "dalle",
    path: dir,
    config: manifest.config as object,
    metrics: manifest.metrics as object,
    active: true,
  });
}

export class ModelRegistry {
  private current?: Loaded;
  private loading?: Promise<Loaded>;

  constructor(
    private readonly db: Db,
    private readonly root = process.cwd(),
  ) {}

  /** Why the last attempt to load a version failed (cleared by the next successful load), for health and the API. */
  loadError: { versionId: string; name: string; message: string } | null = null;

  get loadedName(): string | null {
    return this.current?.name ?? null;
  }

  /** The active model, loaded if needed; call release() when the job is done. */
  async acquire(): Promise<ModelLease> {
    const active = await findActiveModelVersion(this.db);
    if (!active) throw new Error("no model version is active: train one (npm run retrain) or activate one on /models");
    if (this.current?.versionId !== active.id) {
      this.loading ??= this.load(active.id, active.name, active.path)
        .then(
          (loaded) => ((this.loadError = null), loaded),
          (err: unknown) => {
            this.loadError = { versionId: active.id, name: active.name, message: publicMessage(err) };
            throw err;
          },
        )
        .finally(() => (this.loading = undefined));
      const next = await this.loading;
      if (this.current?.versionId !== next.versionId) {
        const old = this.current;
        this.current = next;
        if (old) this.retire(old);
      }
    }
    const lease = this.current!;
    lease.users++;
    let released = false;
    return {
      versionId: lease.versionId,
      name: lease.name,
      bundle: lease.bundle,
      release: () => {
        if (released) return;
        released = true;
        lease.users--;
        if (lease.retired && lease.users === 0) lease.bundle.dispose();
      },
    };
  }

  private async load(versionId: string, name: string, dir: string): Promise<Loaded> {
    const bundle = await loadModelBundle(path.resolve(this.root, dir));
    // One tiny generation compiles kernels and allocates buffers, so the first user does not pay for it.
    const { sampleImageCodes } = await import("../model/sample");
    const c = bundle.transformer.config;
    await sampleImageCodes(bundle.transformer, bundle.text.encodeNull(c.textLen), bundle.text.encodeNull(c.textLen), {
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
    return { versionId, name, bundle, users: 0, retired: false };
  }

  private retire(old: Loaded): void {
    old.retired = true;
    if (old.users === 0) old.bundle.dispose();
  }

  dispose(): void {
    if (this.current) this.retire(this.current);
    this.current = undefined;
  }
}
