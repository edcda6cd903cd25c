// `npm run retrain -- --data FOLDER --denoise`: runs the lab's denoising autoencoder (lib/model/dae.ts; Vincent et
// al. 2008) over every image of the freshly built dataset and writes the cleaned pixels back as its shards, so the
// image tokenizer and the transformer learn the admin's pictures without their noise (the DAE was trained on Gaussian
// and salt-and-pepper noise, lib/model/dae-corruption.ts; NOTE: not on JPEG blocking or blur, which it leaves be).
//
// The DAE runs after buildCustom, on the shards it wrote, rather than inside the build: the build stays one code
// path for every dataset, deduplication still compares the uploads as they are, and the before/after sheet and the
// change statistics come from exactly the bytes the rest of the pipeline would otherwise have trained on.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { readManifest, SPLITS, type DatasetManifest } from "../../lib/data/manifest";
import { readShard, writeShard } from "../../lib/data/shard";
import type { Db } from "../../lib/db/client";
import { readCheckpointManifest } from "../../lib/model/checkpoint";
import { sequentialBatches } from "../../lib/data/batches";
import { labDir } from "../../lib/lab";
import type { DAE } from "../../lib/model/dae";
import { daeConfigFromManifest, type DAEConfig } from "../../lib/model/dae-config";
import { imageGridPng } from "../image-grid";
import { activeModelDir, DEFAULT_MODEL_DIR, displayPath as shown } from "./lab-carry";

const TRAIN_ONE = "npm run train:lab -- --model dae --export models/default/lab/dae";

/** Images per forward pass: large enough to keep XNNPACK busy, small enough for any admin's machine. */
export const DENOISE_BATCH = 64;
/** Uploads per row pair of the before/after sheet. */
export const SHEET_COLS = 12;

export interface Denoiser {
  /** The checkpoint folder (absolute). */
  dir: string;
  /** Hash of its manifest.json (which holds the weights' sha256): a new denoiser re-runs the data stage. */
  hash: string;
  config: DAEConfig;
}

export interface DenoiseReport {
  /** The denoiser folder, relative to the project root when inside it. */
  denoiser: string;
  denoiserHash: string;
  /** Images cleaned, over all splits (a training image lent to an empty val or test split counts again). */
  images: number;
  /** Mean |after − before| over every pixel value, in grey levels (0–255). */
  meanAbsChange: number;
  /** The largest |after − before| of any pixel value, in grey levels. */
  maxAbsChange: number;
  /** The before/after sheet. */
  sheet: string;
}

/** The denoiser folder: `--denoiser DIR`, else the active version's `lab/dae/`, else the shipped model's. */
export async function denoiserDir(db: Db, explicit: string | undefined, defaultModelDir = DEFAULT_MODEL_DIR): Promise<string> {
  if (explicit) return path.resolve(explicit);
  const active = await activeModelDir(db);
  if (active && fs.existsSync(path.join(labDir(active, "dae"), "manifest.json"))) return labDir(active, "dae");
  return path.resolve(labDir(defaultModelDir, "dae"));
}

/**
 * Checks the denoiser folder without loading its weights (they are loaded, and their checksum verified, only when
 * the data stage runs): a DAE checkpoint whose image size and channels are the preset's.
 */
export function checkDenoiser(dir: string, size: number, channels = 3): Denoiser {
  const where = `--denoise: the denoiser ${shown(dir)}`;
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory())
    throw new Error(`${where} does not exist; train one with \`${TRAIN_ONE}\`, or pass --denoiser DIR`);
  let text: string;
  let config: DAEConfig;
  try {
    const m = readCheckpointManifest(dir);
    if (m.kind !== "dae") throw new Error(`it holds a "${m.kind}" checkpoint`);
    config = daeConfigFromManifest(m.config);
    text = fs.readFileSync(path.join(dir, "manifest.json"), "utf8");
  } catch (err) {
    throw new Error(`${where} is not a DAE checkpoint (${(err as Error).message}); train one with \`${TRAIN_ONE}\``);
  }
  if (config.imageSize !== size || config.channels !== channels)
    throw new Error(
      `${where} cleans ${config.imageSize}×${config.imageSize}×${config.channels} images, but this preset builds ${size}×${size}×${channels}; train one at that size or pass another --denoiser`,
    );
  return { dir, hash: createHash("sha256").update(text).digest("hex").slice(0, 16), config };
}

/** uint8 HWC images → the DAE's output as uint8, batch by batch. [N·S·S·C] → [N·S·S·C] */
export async function denoisePixels(model: DAE, data: Uint8Array, count: number, batchSize = DENOISE_BATCH): Promise<Uint8Array> {
  const { imageSize: s, channels: c } = model.config;
  const n = s * s * c;
  if (data.length !== count * n) throw new Error(`denoisePixels: ${data.length} bytes is not ${count} images of ${s}×${s}×${c}`);
  const out = new Uint8Array(data.length);
  for (const { images, indices } of sequentialBatches({ count, height: s, width: s, channels: c, data }, batchSize)) {
    const bytes = tf.tidy(() => tf.cast(tf.round(tf.mul(model.denoise(images), 255)), "int32"));
    try {
      out.set(await bytes.data(), indices[0] * n);
    } finally {
      tf.dispose([images, bytes]);
    }
  }
  return out;
}

/** A white image, to pad a short last row so "before" and "after" stay one above the other. */
const blank = (n: number) => new Uint8Array(n).fill(255);

/**
 * Denoises every shard of the dataset in `dataDir` in place: new shard files, their bytes and sha256 in the
 * manifest, and `notes.denoise` saying what was done. Writes the before/after sheet to `sheetFile`.
 */
export async function denoiseDataset(
  dataDir: string,
  model: DAE,
  denoiser: Denoiser,
  sheetFile: string,
  log: (line: string) => void,
): Promise<DenoiseReport> {
  const manifest: DatasetManifest = readManifest(dataDir);
  const { imageSize: s, channels: c } = model.config;
  const n = s * s * c;
  const before: Uint8Array[] = [];
  const after: Uint8Array[] = [];
  const perImage: number[] = [];
  let sum = 0;
  let values = 0;
  let max = 0;
  const shards: DatasetManifest["shards"] = [];
  for (const split of SPLITS) {
    for (const entry of manifest.shards.filter((e) => e.split === split)) {
      if (entry.size !== s)
        throw new Error(`${dataDir}: the ${split} shard is ${entry.size}×${entry.size}; the denoiser cleans ${s}×${s} images`);
      const shard = readShard(path.join(dataDir, entry.file), entry.sha256);
      if (shard.channels !== c) throw new Error(`${entry.file}: ${shard.channels} channels; the denoiser takes ${c}`);
      const cleaned = await denoisePixels(model, shard.data, shard.count);
      for (let i = 0; i < shard.count; i++) {
        let d = 0;
        for (let j = i * n; j < (i + 1) * n; j++) {
          const e = Math.abs(cleaned[j] - shard.data[j]);
          d += e;
          if (e > max) max = e;
        }
        sum += d;
        perImage.push(d / n);
        before.push(shard.data.subarray(i * n, (i + 1) * n));
        after.push(cleaned.subarray(i * n, (i + 1) * n));
      }
      values += cleaned.length;
      // Written beside the old shard and renamed over it: a crash leaves the old file or the new one, never half of
      // one; a manifest left stale by a crash fails loadSplit's checksum, and the unfinished data stage re-runs.
      const tmp = path.join(dataDir, `.${entry.file}.tmp-${process.pid}`);
      const written = writeShard(tmp, { ...shard, data: cleaned });
      fs.renameSync(tmp, path.join(dataDir, entry.file));
      shards.push({ ...entry, ...written });
    }
  }
  const report: DenoiseReport = {
    denoiser: shown(denoiser.dir),
    denoiserHash: denoiser.hash,
    images: before.length,
    meanAbsChange: values ? Math.round((sum / values) * 1000) / 1000 : 0,
    maxAbsChange: max,
    sheet: sheetFile,
  };
  const { denoiser: by, denoiserHash, images, meanAbsChange, maxAbsChange } = report;
  const notes = { ...manifest.notes, denoise: { denoiser: by, denoiserHash, images, meanAbsChange, maxAbsChange } };
  const next: DatasetManifest = { ...manifest, shards, notes };
  const manifestTmp = path.join(dataDir, `.manifest.json.tmp-${process.pid}`);
  fs.writeFileSync(manifestTmp, JSON.stringify(next, null, 2) + "\n");
  fs.renameSync(manifestTmp, path.join(dataDir, "manifest.json"));

  // The sheet: the first uploads, then the ones the DAE changed most (where an admin should look), each as a row of
  // originals above the same row cleaned.
  const first = before.map((_, i) => i).slice(0, SHEET_COLS);
  const most = before
    .map((_, i) => i)
    .filter((i) => !first.includes(i))
    .sort((a, b) => perImage[b] - perImage[a])
    .slice(0, SHEET_COLS);
  const cols = Math.min(SHEET_COLS, before.length);
  const tiles: Uint8Array[] = [];
  for (const row of [first, most].filter((r) => r.length)) {
    const pad = Array.from({ length: cols - row.length }, () => blank(n));
    tiles.push(...row.map((i) => before[i]), ...pad, ...row.map((i) => after[i]), ...pad);
  }
  await imageGridPng(tiles, s, cols, sheetFile);
  log(`denoise: ${report.images} images cleaned by ${report.denoiser} (manifest ${denoiser.hash})`);
  log(`denoise: mean change ${report.meanAbsChange.toFixed(2)} grey levels per pixel value, largest ${report.maxAbsChange}`);
  log(`denoise: before/after sheet ${shown(sheetFile)} (top: the first ${first.length} uploads; below: the ${most.length} changed most)`);
  return report;
}
