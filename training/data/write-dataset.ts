// Writes a built dataset folder: one shard per split and size, captions.jsonl, manifest.json. Everything goes to
// a temporary folder first and replaces the old dataset only when complete, so a failed or interrupted build
// never leaves a half-written dataset behind.
import fs from "node:fs";
import path from "node:path";
import { SPLITS, type CaptionRecord, type DatasetManifest, type Split } from "../../lib/data/manifest";
import { writeShard } from "../../lib/data/shard";

export interface DatasetItem {
  split: Split;
  /** size → size×size×3 uint8 HWC */
  images: Map<number, Uint8Array>;
  caption: string;
  meta: Record<string, unknown>;
}

export interface WriteDatasetOptions {
  name: string;
  outDir: string;
  sizes: number[];
  seed: number;
  items: DatasetItem[];
  sources: DatasetManifest["sources"];
  splitRule: string;
  notes: Record<string, unknown>;
  log?: (line: string) => void;
}

/** Creates the parent folder and proves it writable, with a message that names the folder when it is not. */
export function ensureWritableDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
    const probe = path.join(dir, `.write-test-${process.pid}`);
    fs.writeFileSync(probe, "");
    fs.rmSync(probe);
  } catch (err) {
    throw new Error(`cannot write to the output folder ${dir}: ${(err as Error).message.split("\n")[0]}`);
  }
}

export function writeDataset(o: WriteDatasetOptions): DatasetManifest {
  const parent = path.dirname(path.resolve(o.outDir));
  ensureWritableDir(parent);
  const tmp = path.join(parent, `.${path.basename(o.outDir)}.tmp-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp);
  try {
    const bySplit = Object.fromEntries(SPLITS.map((s) => [s, o.items.filter((it) => it.split === s)])) as Record<Split, DatasetItem[]>;
    const shards: DatasetManifest["shards"] = [];
    for (const split of SPLITS) {
      for (const size of o.sizes) {
        const n = size * size * 3;
        const data = new Uint8Array(bySplit[split].length * n);
        bySplit[split].forEach((it, i) => {
          const img = it.images.get(size);
          if (!img || img.length !== n) throw new Error(`${o.name}: item "${it.caption}" has no ${size}×${size}×3 image`);
          data.set(img, i * n);
        });
        const file = `${split}-${size}.u8`;
        const written = writeShard(path.join(tmp, file), { count: bySplit[split].length, height: size, width: size, channels: 3, data });
        shards.push({ split, size, file, count: bySplit[split].length, ...written });
      }
    }
    const captions: CaptionRecord[] = SPLITS.flatMap((split) => bySplit[split].map((it, index) => ({ split, index, caption: it.caption, meta: it.meta })));
    fs.writeFileSync(path.join(tmp, "captions.jsonl"), captions.map((c) => JSON.stringify(c)).join("\n") + "\n");
    const manifest: DatasetManifest = {
      name: o.name,
      version: 1,
      createdAt: new Date().toISOString(),
      seed: o.seed,
      sizes: o.sizes,
      counts: Object.fromEntries(SPLITS.map((s) => [s, bySplit[s].length])) as Record<Split, number>,
      shards,
      sources: o.sources,
      splitRule: o.splitRule,
      notes: o.notes,
    };
    fs.writeFileSync(path.join(tmp, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
    fs.rmSync(o.outDir, { recursive: true, force: true });
    fs.renameSync(tmp, o.outDir);
    (o.log ?? console.log)(`${o.name}: train ${manifest.counts.train}, val ${manifest.counts.val}, test ${manifest.counts.test} → ${o.outDir}`);
    return manifest;
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
