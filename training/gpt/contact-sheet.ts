// The README's contact sheet: for each prompt, its caption, the real image it was written for, and `images`
// generated pictures at one sampling setting, in sections (held-out test prompts, in-distribution train prompts).
// Text is drawn as SVG (as training/plot/curves.ts does) and the pictures are composited on top by sharp.
import fs from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import sharp from "sharp";
import { batchTensor } from "../../lib/data/batches";
import type { CaptionRecord } from "../../lib/data/manifest";
import type { Shard } from "../../lib/data/shard";
import type { BatchSampler } from "../../lib/generate/engine";
import { sampleImageCodesBatch, type SampleOptions } from "../../lib/model/sample";
import type { Transformer } from "../../lib/model/transformer";
import type { VQModel } from "../../lib/model/vq-model";
import type { TextTokenizer } from "../../lib/text/tokenizer";
import { tensorToImages } from "../image-grid";
import { escapeXml } from "../plot/curves";

export interface SheetSection {
  title: string;
  records: CaptionRecord[];
  /** The split the records index into (their real images). */
  shard: Shard;
}

export interface SheetRow {
  caption: string;
  real: Uint8Array;
  samples: Uint8Array[];
}

const SCALE = 3;
const GAP = 4;
const TEXT_W = 300;
/** A section's title line and the line of column labels under it. */
const TITLE_H = 44;
/** Characters per caption line at 14 px in TEXT_W (long captions wrap at spaces). */
const LINE_CHARS = 34;

/** Splits a caption into lines of at most LINE_CHARS characters at spaces (a longer word gets a line of its own). */
export function wrapCaption(caption: string, width = LINE_CHARS): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of caption.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** Lays out sections of rows (caption | real | samples) as one PNG; every image is size×size RGB. */
export async function contactSheetPng(sections: { title: string; rows: SheetRow[] }[], size: number, file: string): Promise<void> {
  const cell = size * SCALE + GAP;
  const cols = Math.max(1, ...sections.flatMap((s) => s.rows.map((r) => r.samples.length)));
  const width = TEXT_W + cell * (cols + 1) + GAP * 4;
  const text: string[] = [];
  const tiles: { input: Buffer; left: number; top: number }[] = [];
  const tile = async (img: Uint8Array, left: number, top: number) =>
    tiles.push({
      input: await sharp(Buffer.from(img), { raw: { width: size, height: size, channels: 3 } })
        .resize(size * SCALE, size * SCALE, { kernel: "nearest" })
        .png()
        .toBuffer(),
      left,
      top,
    });
  let y = GAP;
  for (const s of sections) {
    text.push(`<text x="${GAP}" y="${y + 18}" font-size="16" font-weight="bold">${escapeXml(s.title)}</text>`);
    text.push(`<text x="${TEXT_W}" y="${y + 38}" font-size="12">real</text>`);
    text.push(`<text x="${TEXT_W + cell + GAP * 4}" y="${y + 38}" font-size="12">generated</text>`);
    y += TITLE_H;
    for (const r of s.rows) {
      const lines = wrapCaption(r.caption);
      const top = y + cell / 2 + 5 - ((lines.length - 1) * 17) / 2;
      lines.forEach((l, i) => text.push(`<text x="${GAP}" y="${top + i * 17}" font-size="14">${escapeXml(l)}</text>`));
      await tile(r.real, TEXT_W, y);
      for (const [i, img] of r.samples.entries()) await tile(img, TEXT_W + cell * (i + 1) + GAP * 4, y);
      y += cell;
    }
    y += GAP * 2;
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" font-family="sans-serif"><rect width="100%" height="100%" fill="#ffffff"/>${text.join("")}</svg>`;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await sharp(Buffer.from(svg)).composite(tiles).png().toFile(file);
}

/** Generates `images` pictures per prompt of every section at `setting` and writes the sheet. */
export async function writeContactSheet(
  gpt: Transformer,
  vq: VQModel,
  tok: TextTokenizer,
  sections: SheetSection[],
  setting: Omit<SampleOptions, "n" | "seed">,
  images: number,
  file: string,
  seed = 1,
  /** The batch sampler (lib/generate/engine.ts); tfjs unless the caller passes the server's. */
  sample: BatchSampler = sampleImageCodesBatch,
): Promise<void> {
  const textLen = gpt.config.textLen;
  const nul = tok.encodeNull(textLen);
  const out: { title: string; rows: SheetRow[] }[] = [];
  for (const s of sections) {
    const codes = await sample(
      gpt,
      s.records.map((r) => tok.encode(r.caption, textLen).ids),
      nul,
      { ...setting, n: images, seed },
    );
    const real = batchTensor(
      s.shard,
      s.records.map((r) => r.index),
    );
    let generated: Uint8Array[], reals: Uint8Array[];
    try {
      const pixels = vq.decodeCodes(codes); // [P·n, S, S, 3]
      try {
        generated = await tensorToImages(pixels);
      } finally {
        pixels.dispose();
      }
      reals = await tensorToImages(real);
    } finally {
      real.dispose();
    }
    out.push({
      title: s.title,
      rows: s.records.map((r, i) => ({ caption: r.caption, real: reals[i], samples: generated.slice(i * images, (i + 1) * images) })),
    });
  }
  await contactSheetPng(out, vq.config.imageSize, file);
}
