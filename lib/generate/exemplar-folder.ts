// The exemplar bank a model folder may carry in `exemplars/` (./exemplars.ts; written by `npm run exemplars`): every
// training picture shrunk to the bank's side, 64 to a row in one lossless PNG (pictures.png), their captions
// (captions.json), and the mix the server ranks with (manifest.json: neighbours m, weight). Shrunk because a person
// (and the vote) tells emoji apart by their colours and layout, and because the full 32×32 pictures would weigh
// 11.8 MB in the repository (3.4 at 16×16) and cost 4× more to search per request (the eval measured the sides: see
// docs/transformer/README.md, "Reranking by exemplars"). Captions are embedded by the reranking CLIP when first
// needed (a request needs only its candidates' neighbours'), so the bank always agrees with the CLIP.
import fs from "node:fs";
import path from "node:path";
import sharp from "sharp";
import { z } from "zod";
import { checkBank, nearestPictures, shrink, voteScores, type ExemplarBank } from "./exemplars";
import type { ClipPart } from "./model-bundle";
import { embedTexts } from "./rerank";

export const EXEMPLARS_SUBDIR = "exemplars";
export const EXEMPLARS_FORMAT = "tessera-exemplars";
/** Pictures per row of pictures.png. */
const PER_ROW = 64;

/**
 * Where row `y` of picture `i` lies in pictures.png (side `s`, PER_ROW pictures a row), in bytes: the one layout
 * writeExemplars and readExemplars share.
 */
const atlasOffset = (i: number, y: number, s: number) => ((Math.floor(i / PER_ROW) * s + y) * PER_ROW * s + (i % PER_ROW) * s) * 3;

export const ExemplarManifest = z.object({
  format: z.literal(EXEMPLARS_FORMAT),
  version: z.literal(1),
  count: z.number().int().positive(),
  /** Side of the bank's pictures; the generated pictures (the image tokenizer's size, a multiple) are shrunk to it. */
  side: z.number().int().positive(),
  /** How many of a candidate's nearest bank pictures vote (./exemplars.ts voteScores). */
  neighbours: z.number().int().positive(),
  /** The vote's weight beside CLIP's: z(CLIP) + weight·z(vote). */
  weight: z.number().min(0),
  /** The dataset the pictures came from (lib/data/manifest.ts datasetHash) and its split: train only. */
  dataHash: z.string(),
  split: z.literal("train"),
  createdAt: z.string(),
  /** How the mix was chosen (free text: the command and the figures). */
  chosen: z.string().optional(),
});
export type ExemplarManifest = z.infer<typeof ExemplarManifest>;

/** A bank ready to vote: its pictures, its mix, and its captions' CLIP embeddings as far as they were needed. */
export interface ExemplarPart {
  bank: ExemplarBank;
  neighbours: number;
  weight: number;
  /** Picture id → its caption's unit embedding by the reranking CLIP, filled as requests need them. */
  embedded: Map<number, Float32Array>;
}

export function exemplarPart(bank: ExemplarBank, neighbours: number, weight: number): ExemplarPart {
  return { bank: checkBank(bank), neighbours, weight, embedded: new Map() };
}

/** The exemplars sub-folder of a model folder, or null when it has none. */
export function exemplarsDirOf(modelDir: string): string | null {
  const dir = path.join(modelDir, EXEMPLARS_SUBDIR);
  return fs.existsSync(path.join(/*turbopackIgnore: true*/ dir, "manifest.json")) ? dir : null;
}

/** Writes a bank folder: the manifest, the captions and the pictures (at the manifest's side) as one PNG. */
export async function writeExemplars(dir: string, manifest: ExemplarManifest, bank: ExemplarBank): Promise<void> {
  const m = ExemplarManifest.parse(manifest);
  checkBank(bank);
  if (bank.count !== m.count || bank.side !== m.side)
    throw new Error(`exemplars: a bank of ${bank.count} at ${bank.side}, the manifest says ${m.count} at ${m.side}`);
  const s = m.side;
  const rows = Math.ceil(m.count / PER_ROW);
  const atlas = Buffer.alloc(rows * s * PER_ROW * s * 3); // [rows·s, 64·s, 3]
  for (let i = 0; i < m.count; i++)
    for (let y = 0; y < s; y++) atlas.set(bank.pictures.subarray((i * s + y) * s * 3, (i * s + y + 1) * s * 3), atlasOffset(i, y, s));
  fs.mkdirSync(/*turbopackIgnore: true*/ dir, { recursive: true });
  const png = await sharp(atlas, { raw: { width: PER_ROW * s, height: rows * s, channels: 3 } })
    // Lossless: sharp turns a palette on (256 colours) when `effort` or `colours` is given, so neither is.
    .png({ compressionLevel: 9, palette: false })
    .toBuffer();
  fs.writeFileSync(path.join(/*turbopackIgnore: true*/ dir, "pictures.png"), png);
  fs.writeFileSync(path.join(/*turbopackIgnore: true*/ dir, "captions.json"), JSON.stringify(bank.captions) + "\n");
  fs.writeFileSync(path.join(/*turbopackIgnore: true*/ dir, "manifest.json"), JSON.stringify(m, null, 2) + "\n");
}

/** Reads and checks a bank folder. */
export async function readExemplars(dir: string): Promise<{ manifest: ExemplarManifest; bank: ExemplarBank }> {
  const read = (f: string) => {
    try {
      return fs.readFileSync(path.join(/*turbopackIgnore: true*/ dir, f));
    } catch (err) {
      throw new Error(`${dir}: cannot read ${f} (${(err as Error).message}); rebuild it with npm run exemplars`);
    }
  };
  const json = (f: string): unknown => {
    try {
      return JSON.parse(read(f).toString("utf8"));
    } catch (err) {
      throw new Error(`${dir}/${f}: ${(err as Error).message}`);
    }
  };
  const parsed = ExemplarManifest.safeParse(json("manifest.json"));
  if (!parsed.success) throw new Error(`${dir}/manifest.json: not an exemplar manifest (${parsed.error.issues[0]?.message})`);
  const manifest = parsed.data;
  const captions = z.array(z.string()).safeParse(json("captions.json"));
  if (!captions.success) throw new Error(`${dir}/captions.json: not a list of captions`);
  const s = manifest.side;
  const rows = Math.ceil(manifest.count / PER_ROW);
  const { data, info } = await sharp(read("pictures.png"))
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true })
    .catch((err: Error) => {
      throw new Error(`${dir}/pictures.png: ${err.message}`);
    });
  if (info.width !== PER_ROW * s || info.height !== rows * s || info.channels !== 3)
    throw new Error(
      `${dir}/pictures.png is ${info.width}×${info.height}×${info.channels}; ${manifest.count} pictures of ${s}×${s}×3 need ${PER_ROW * s}×${rows * s}`,
    );
  const pictures = new Uint8Array(manifest.count * s * s * 3);
  for (let i = 0; i < manifest.count; i++)
    for (let y = 0; y < s; y++) pictures.set(data.subarray(atlasOffset(i, y, s), atlasOffset(i, y, s) + s * 3), (i * s + y) * s * 3);
  return { manifest, bank: checkBank({ count: manifest.count, captions: captions.data, pictures, side: s }) };
}

/**
 * A model folder's bank for pictures of `imageSize` (the image tokenizer's), undefined when the folder has none. A
 * bank whose side does not divide the pictures is an error, as a CLIP that does not fit is.
 */
export async function loadExemplars(modelDir: string, imageSize: number): Promise<ExemplarPart | undefined> {
  const dir = exemplarsDirOf(modelDir);
  if (!dir) return undefined;
  const { manifest, bank } = await readExemplars(dir);
  if (imageSize % manifest.side !== 0)
    throw new Error(
      `${dir}: the bank's ${manifest.side}-pixel pictures cannot be compared with the image tokenizer's ${imageSize}-pixel ones`,
    );
  return exemplarPart(bank, manifest.neighbours, manifest.weight);
}

/**
 * Each candidate's vote (./exemplars.ts voteScores): candidates as rows of `imageSize`² · 3 levels, shrunk to the
 * bank's side; the prompt a unit embedding by `clip`, which also embeds the neighbours' captions not yet embedded.
 */
export async function exemplarVotes(
  part: ExemplarPart,
  clip: ClipPart,
  prompt: ArrayLike<number>,
  candidates: readonly ArrayLike<number>[],
  imageSize: number,
): Promise<Float32Array> {
  const shrunk = candidates.map((c) => shrink(c, imageSize, part.bank.side));
  const neighbours = nearestPictures(part.bank, shrunk, part.neighbours);
  const missing = [...new Set(neighbours.flat())].filter((id) => !part.embedded.has(id));
  if (missing.length) {
    const { dim, embeddings } = await embedTexts(
      clip,
      missing.map((id) => part.bank.captions[id]),
    );
    missing.forEach((id, i) => part.embedded.set(id, embeddings.slice(i * dim, (i + 1) * dim)));
  }
  return voteScores(prompt, neighbours, (id) => part.embedded.get(id)!);
}
