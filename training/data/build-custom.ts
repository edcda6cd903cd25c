// An admin's own pictures as a dataset: a folder of images (PNG/JPG, any size: resized to cover the square and
// centre-cropped) with captions in captions.jsonl ({"file", "caption"} per line) or captions.csv (file,caption).
// Unreadable images, missing captions and duplicates are skipped and counted; the split is a seeded hash.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import sharp from "sharp";
import type { DatasetManifest, Split } from "../../lib/data/manifest";
import { hashString } from "../../lib/data/rng";
import { Progress, mapLimit } from "../progress";
import { writeDataset, type DatasetItem } from "./write-dataset";

export interface CustomBuildReport {
  images: number;
  skipped: { unreadable: string[]; noCaption: string[]; duplicate: string[]; missingFile: string[] };
}

const IMAGE_EXT = /\.(png|jpe?g|webp)$/i;

/** file → caption, from captions.jsonl or captions.csv (a header line "file,caption" is optional). */
export function readCaptionFile(dir: string): Map<string, string> {
  const jsonl = path.join(dir, "captions.jsonl");
  const csv = path.join(dir, "captions.csv");
  const out = new Map<string, string>();
  if (fs.existsSync(jsonl)) {
    fs.readFileSync(jsonl, "utf8").split("\n").forEach((line, i) => {
      if (!line.trim()) return;
      let rec: { file?: unknown; caption?: unknown };
      try {
        rec = JSON.parse(line);
      } catch {
        throw new Error(`${jsonl}:${i + 1}: not JSON (expected {"file": "...", "caption": "..."})`);
      }
      if (typeof rec.file !== "string" || typeof rec.caption !== "string") throw new Error(`${jsonl}:${i + 1}: needs string fields "file" and "caption"`);
      out.set(rec.file, rec.caption.trim());
    });
  } else if (fs.existsSync(csv)) {
    for (const [i, line] of fs.readFileSync(csv, "utf8").split("\n").entries()) {
      if (!line.trim() || (i === 0 && /^file\s*,\s*caption/i.test(line))) continue;
      const comma = line.indexOf(",");
      if (comma < 0) throw new Error(`${csv}:${i + 1}: expected "file,caption"`);
      out.set(line.slice(0, comma).trim(), line.slice(comma + 1).trim().replace(/^"(.*)"$/, "$1"));
    }
  } else {
    throw new Error(`${dir} has neither captions.jsonl nor captions.csv`);
  }
  return out;
}

export async function buildCustom(o: { srcDir: string; outDir: string; size: number; seed: number; log?: (s: string) => void }): Promise<{ manifest: DatasetManifest; report: CustomBuildReport }> {
  const log = o.log ?? console.log;
  if (!fs.existsSync(o.srcDir) || !fs.statSync(o.srcDir).isDirectory()) throw new Error(`--data ${o.srcDir} is not a folder`);
  const captions = readCaptionFile(o.srcDir);
  const files = fs.readdirSync(o.srcDir).filter((f) => IMAGE_EXT.test(f)).sort();
  const report: CustomBuildReport = { images: 0, skipped: { unreadable: [], noCaption: [], duplicate: [], missingFile: [] } };
  report.skipped.missingFile = [...captions.keys()].filter((f) => !files.includes(f));
  const bar = new Progress("images", files.length);
  const loaded = await mapLimit(files, 4, async (file) => {
    try {
      const caption = captions.get(file);
      if (!caption) {
        report.skipped.noCaption.push(file);
        return undefined;
      }
      const pixels = await sharp(path.join(o.srcDir, file)).resize(o.size, o.size, { fit: "cover", position: "centre" }).flatten({ background: "#ffffff" }).removeAlpha().raw().toBuffer();
      return { file, caption, pixels: new Uint8Array(pixels) };
    } catch {
      report.skipped.unreadable.push(file);
      return undefined;
    } finally {
      bar.tick();
    }
  });
  bar.finish();
  const seen = new Set<string>();
  const items: DatasetItem[] = [];
  for (const it of loaded) {
    if (!it) continue;
    const key = createHash("sha256").update(it.pixels).update(it.caption).digest("hex");
    if (seen.has(key)) {
      report.skipped.duplicate.push(it.file);
      continue;
    }
    seen.add(key);
    const u = hashString(it.file, o.seed) / 2 ** 32;
    const split: Split = u < 0.05 ? "test" : u < 0.1 ? "val" : "train";
    items.push({ split, images: new Map([[o.size, it.pixels]]), caption: it.caption, meta: { file: it.file } });
  }
  report.images = items.length;
  const s = report.skipped;
  log(`${o.srcDir}: ${items.length} images kept; skipped ${s.unreadable.length} unreadable, ${s.noCaption.length} without a caption, ${s.duplicate.length} duplicates; ${s.missingFile.length} captions name missing files`);
  if (items.filter((i) => i.split === "train").length < 2) throw new Error(`${o.srcDir}: too few usable images (${items.length}) to train on`);
  // Tiny sets can leave val or test empty: borrow one training image so every split can be evaluated.
  for (const split of ["val", "test"] as const) {
    if (!items.some((i) => i.split === split)) items.push({ ...items.find((i) => i.split === "train")!, split });
  }
  const manifest = writeDataset({
    name: path.basename(path.resolve(o.srcDir)),
    outDir: o.outDir,
    sizes: [o.size],
    seed: o.seed,
    items,
    sources: [{ name: "custom", package: path.resolve(o.srcDir), version: "local", license: "as provided by the admin", attribution: "the admin's own images", count: items.length }],
    splitRule: "seeded hash of the file name: 5 % test, 5 % val, the rest train",
    notes: { skipped: report.skipped },
    log,
  });
  return { manifest, report };
}
