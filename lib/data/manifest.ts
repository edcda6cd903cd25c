// What a built dataset folder holds: manifest.json (counts, shard files with sha256, sources and licences) and
// captions.jsonl (one record per image, pointing at its split and index). Read back with validation, so a
// hand-edited or half-written folder fails with a message instead of training on garbage.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { readShard, type Shard } from "./shard";

export const SPLITS = ["train", "val", "test"] as const;
export type Split = (typeof SPLITS)[number];

export const ShardEntry = z.object({
  split: z.enum(SPLITS),
  size: z.number().int().positive(),
  file: z.string().min(1),
  count: z.number().int().nonnegative(),
  bytes: z.number().int().positive(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

export const SourceEntry = z.object({
  name: z.string(),
  package: z.string(),
  version: z.string(),
  license: z.string(),
  licenseUrl: z.string().optional(),
  attribution: z.string(),
  count: z.number().int().nonnegative(),
});

export const DatasetManifest = z.object({
  name: z.string(),
  version: z.literal(1),
  createdAt: z.string(),
  seed: z.number().int(),
  sizes: z.array(z.number().int().positive()),
  counts: z.record(z.enum(SPLITS), z.number().int().nonnegative()),
  shards: z.array(ShardEntry),
  sources: z.array(SourceEntry),
  splitRule: z.string(),
  /** Set-specific facts (skipped SVGs, held-out compositions, caption grammar, …). */
  notes: z.record(z.string(), z.unknown()).default({}),
});
export type DatasetManifest = z.infer<typeof DatasetManifest>;

export const CaptionRecord = z.object({
  split: z.enum(SPLITS),
  /** Position of the image in its split's shard files. */
  index: z.number().int().nonnegative(),
  caption: z.string().min(1),
  /** Set-specific fields: label, style, tags, hexcode (emoji); objects (shapes). */
  meta: z.record(z.string(), z.unknown()).default({}),
});
export type CaptionRecord = z.infer<typeof CaptionRecord>;

/** A dataset folder's manifest.json as parsed JSON, not yet validated; a missing or broken file says how to build it. */
function readManifestJson(dir: string): { file: string; raw: unknown } {
  const file = path.join(dir, "manifest.json");
  try {
    return { file, raw: JSON.parse(fs.readFileSync(file, "utf8")) };
  } catch (err) {
    throw new Error(`cannot read dataset manifest ${file}: ${(err as Error).message} (build it with \`npm run data\`)`);
  }
}

export function readManifest(dir: string): DatasetManifest {
  const { file, raw } = readManifestJson(dir);
  const parsed = DatasetManifest.safeParse(raw);
  if (!parsed.success) throw new Error(`${file} is not a valid dataset manifest: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  return parsed.data;
}

/**
 * The data hash a checkpoint records (its manifest's `dataHash`): sha256 of the dataset's manifest without its
 * build time (`createdAt`), then of its captions. The same data built again — on a fresh machine, another day — has
 * the same hash, so a model warm-started there still names the data its parent was trained on; a changed shard (its
 * sha256 is in the manifest), caption, split or source changes it.
 */
export function datasetHash(dir: string): string {
  const raw = readManifestJson(dir).raw as Record<string, unknown>;
  delete raw.createdAt;
  const h = createHash("sha256").update(JSON.stringify(raw));
  const captions = path.join(dir, "captions.jsonl");
  if (fs.existsSync(captions)) h.update(fs.readFileSync(captions));
  return h.digest("hex");
}

export function readCaptions(dir: string): CaptionRecord[] {
  const file = path.join(dir, "captions.jsonl");
  const lines = fs.readFileSync(file, "utf8").split("\n").filter((l) => l.trim());
  return lines.map((line, i) => {
    const parsed = CaptionRecord.safeParse(JSON.parse(line));
    if (!parsed.success) throw new Error(`${file}:${i + 1}: ${parsed.error.issues.map((x) => `${x.path.join(".")}: ${x.message}`).join("; ")}`);
    return parsed.data;
  });
}

/** A split at one size, checked against the manifest (checksum, count, size). */
export function loadSplit(dir: string, split: Split, size: number, manifest = readManifest(dir)): Shard {
  const entry = manifest.shards.find((s) => s.split === split && s.size === size);
  if (!entry) throw new Error(`${dir}: no ${split} shard at ${size}×${size} (have ${manifest.shards.map((s) => `${s.split}@${s.size}`).join(", ")})`);
  const shard = readShard(path.join(dir, entry.file), entry.sha256);
  if (shard.count !== entry.count || shard.height !== size || shard.width !== size) {
    throw new Error(`${entry.file}: holds ${shard.count} images of ${shard.height}×${shard.width}; the manifest says ${entry.count} of ${size}×${size}`);
  }
  return shard;
}

/** The captions of one split, ordered by their index in the shard. */
export function captionsFor(records: CaptionRecord[], split: Split): CaptionRecord[] {
  return records.filter((r) => r.split === split).sort((a, b) => a.index - b.index);
}
