// The image rows of finished jobs: what a worker hands over for each picture (PNG, size, CLIP score and embedding,
// typicality), how it becomes a row, and reading a PNG back wherever the image store (./image-store.ts) put it.
import type { Db } from "./client";
import { imageStore, type ImageStore, type PngColumns } from "./image-store";

/** One picture of a finished job, as the generator hands it over (lib/generate calls it GeneratedImage). */
export interface FinishedImage {
  png: Buffer;
  width: number;
  height: number;
  /** CLIP's cosine with the prompt (a model with a CLIP). */
  score?: number;
  /** CLIP's unit image embedding (a model with a CLIP). */
  embedding?: Float32Array;
  /** Bits/dim under the model's flow, and whether that is above the flow's threshold (a model with a flow). */
  bitsPerDim?: number;
  atypical?: boolean;
  /** The codes it was decoded from (h·w, row-major). */
  codes?: ArrayLike<number>;
}

export interface JobOutput {
  /** The images kept, in the order shown (best score first when reranked). */
  images: FinishedImage[];
  /** Candidates CLIP ranked below them: stored flagged, for the detail page only. */
  rejected?: FinishedImage[];
  /** Candidates sampled and ranked; null when reranking was off. */
  candidates?: number | null;
}

/** float32 little-endian bytes of an embedding (the column's format, the same on every machine). */
export function embeddingBytes(e: Float32Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(e.length * 4);
  const view = new DataView(out.buffer);
  e.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return out;
}

/** Codes as the Image row's `codes` column holds them: uint16 little-endian (codebooks have at most 65,536 entries). */
export function codesBytes(codes: ArrayLike<number>): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(codes.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < codes.length; i++) view.setUint16(i * 2, codes[i], true);
  return out;
}

/** The inverse of codesBytes. */
export function codesOf(bytes: Uint8Array): Int32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Int32Array.from({ length: bytes.byteLength >> 1 }, (_, i) => view.getUint16(i * 2, true));
}

/** The inverse of embeddingBytes. */
export function embeddingOf(bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Float32Array.from({ length: bytes.byteLength >> 2 }, (_, i) => view.getFloat32(i * 4, true));
}

export const imageRow = (id: string, img: FinishedImage, index: number, rejected: boolean, bytes: PngColumns) => ({
  generationId: id,
  index,
  ...bytes,
  width: img.width,
  height: img.height,
  score: img.score ?? null,
  rejected,
  embedding: img.embedding ? embeddingBytes(img.embedding) : null,
  bitsPerDim: img.bitsPerDim ?? null,
  atypical: img.atypical ?? null,
  codes: img.codes ? codesBytes(img.codes) : null,
});

/** The codes of a generation's images by index (kept, then rejected; null for images stored without them). */
export async function imageCodesOf(db: Db, generationId: string): Promise<{ index: number; codes: Int32Array | null }[]> {
  const rows = await db.image.findMany({ where: { generationId }, orderBy: { index: "asc" }, select: { index: true, codes: true } });
  return rows.map((r) => ({ index: r.index, codes: r.codes ? codesOf(r.codes) : null }));
}

/** Image `index` of a generation (a priming source: {generationId, index}) as PNG bytes; null when there is none. */
export async function getImagePngAt(db: Db, generationId: string, index: number, store?: ImageStore): Promise<{ png: Uint8Array } | null> {
  const row = await db.image.findUnique({ where: { generationId_index: { generationId, index } }, select: { id: true } });
  return row ? getImagePng(db, row.id, store) : null;
}

/**
 * An image's PNG bytes, wherever they are: in its row (IMAGE_STORE=database, and every row from before the image
 * store) or in the store. Null for an unknown id; ImageFileMissing when the row names a file that is gone.
 */
export async function getImagePng(db: Db, id: string, store?: ImageStore): Promise<{ png: Uint8Array } | null> {
  const row = await db.image.findUnique({ where: { id }, select: { png: true, storeKey: true } });
  if (!row) return null;
  if (row.png !== null) return { png: row.png };
  if (row.storeKey === null) throw new Error(`image ${id} has neither bytes nor a store key`);
  // The store is opened only here, so a server whose images are all in rows serves them whatever IMAGE_STORE says.
  return { png: await (store ?? imageStore()).get(row.storeKey) };
}
