// Contact sheets: a grid of a split's images (nearest-neighbour upscaled, so pixels stay visible) with their
// captions underneath, one PNG per set and split, for eyeballing what the models will learn from.
import fs from "node:fs";
import path from "node:path";
import sharp from "sharp";
import { captionsFor, loadSplit, readCaptions, readManifest, SPLITS } from "../../lib/data/manifest";
import { mulberry32, shuffleInPlace } from "../../lib/data/rng";
import { imageAt } from "../../lib/data/shard";

const CELL = 96;
const IMAGE = 64;
const TEXT = 40;

const escapeXml = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

/** Splits a caption into at most three lines of about `width` characters, the last cut with an ellipsis. */
export function wrap(text: string, width = 19, maxLines = 3): string[] {
  const words = text.split(" ");
  const lines = [""];
  for (const w of words) {
    const cur = lines[lines.length - 1];
    if (cur && (cur + " " + w).length > width) lines.push(w);
    else lines[lines.length - 1] = cur ? `${cur} ${w}` : w;
  }
  if (lines.length <= maxLines) return lines;
  const kept = lines.slice(0, maxLines);
  kept[maxLines - 1] = `${kept[maxLines - 1].slice(0, width - 1)}…`;
  return kept;
}

export async function contactSheet(datasetDir: string, split: (typeof SPLITS)[number], outFile: string, options: { cols?: number; rows?: number; seed?: number } = {}): Promise<number> {
  const manifest = readManifest(datasetDir);
  const size = Math.min(...manifest.sizes);
  const shard = loadSplit(datasetDir, split, size, manifest);
  const captions = captionsFor(readCaptions(datasetDir), split);
  const cols = options.cols ?? 8;
  const rows = options.rows ?? 6;
  const picks = shuffleInPlace(Array.from({ length: shard.count }, (_, i) => i), mulberry32(options.seed ?? 1)).slice(0, cols * rows);
  if (!picks.length) throw new Error(`${datasetDir}: the ${split} split is empty`);
  const usedRows = Math.ceil(picks.length / cols);
  const tiles = await Promise.all(
    picks.map(async (idx, k) => {
      const tile = await sharp(Buffer.from(imageAt(shard, idx)), { raw: { width: size, height: size, channels: 3 } })
        .resize(IMAGE, IMAGE, { kernel: "nearest" })
        .png()
        .toBuffer();
      return { input: tile, left: (k % cols) * CELL + (CELL - IMAGE) / 2, top: Math.floor(k / cols) * (IMAGE + TEXT) + 4 };
    }),
  );
  const texts = picks
    .map((idx, k) => {
      const x = (k % cols) * CELL + CELL / 2;
      const y = Math.floor(k / cols) * (IMAGE + TEXT) + IMAGE + 16;
      return wrap(captions[idx]?.caption ?? "?")
        .map((line, j) => `<text x="${x}" y="${y + j * 11}" text-anchor="middle">${escapeXml(line)}</text>`)
        .join("");
    })
    .join("");
  const width = cols * CELL;
  const height = usedRows * (IMAGE + TEXT) + 4;
  const overlay = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><g font-family="DejaVu Sans, sans-serif" font-size="9" fill="#333">${texts}</g></svg>`;
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  await sharp({ create: { width, height, channels: 3, background: "#ffffff" } })
    .composite([...tiles, { input: Buffer.from(overlay), left: 0, top: 0 }])
    .png()
    .toFile(outFile);
  return picks.length;
}
