// The picture an image-primed job starts from, made into what the model reads: an upload is checked (PNG, JPEG or
// WebP by its bytes, at most UPLOAD_MAX_BYTES, at most UPLOAD_MAX_PIXELS before anything is decoded, so a small
// file that inflates to gigabytes — a decompression bomb — is refused from its header), then decoded by sharp,
// turned upright (EXIF), composited on white (the emoji the models learnt are drawn on white, and the gallery shows
// transparency on white) and fitted whole into the model's square (letterboxed in white, never cropped). The
// result, a PNG at the model's image size, is what is stored with the job, shown on its page, and encoded into
// codes by the worker (./prime-codes.ts). Every refusal is an HttpError with a status and a message for users.
import sharp, { type Metadata } from "sharp";
import { HttpError } from "../api";
import { UPLOAD_MAX_BYTES } from "./params";

export { UPLOAD_MAX_BYTES };

/** Pixels (width × height) an upload may declare: a 4096×4096 picture, far beyond what a 1 MB PNG, JPEG or WebP of a real image needs. */
export const UPLOAD_MAX_PIXELS = 4096 * 4096;

export type UploadFormat = "png" | "jpeg" | "webp";
const FORMATS: readonly UploadFormat[] = ["png", "jpeg", "webp"];
const ACCEPTED = "send a PNG, JPEG or WebP image";

const starts = (b: Uint8Array, sig: number[], at = 0) => sig.every((v, i) => b[at + i] === v);
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

/** The format by the file's first bytes (its declared type can be anything); null for one we do not take. */
export function sniffFormat(b: Uint8Array): UploadFormat | null {
  if (starts(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return "png";
  if (starts(b, [0xff, 0xd8, 0xff])) return "jpeg";
  if (starts(b, ascii("RIFF")) && starts(b, ascii("WEBP"), 8)) return "webp";
  return null;
}

/** A name for a format we refuse, so the 415 says what was sent. */
function knownOther(b: Uint8Array): string | null {
  if (starts(b, ascii("GIF8"))) return "a GIF";
  if (starts(b, ascii("BM"))) return "a BMP";
  if (starts(b, [0x49, 0x49, 0x2a, 0x00]) || starts(b, [0x4d, 0x4d, 0x00, 0x2a])) return "a TIFF";
  if (starts(b, ascii("ftyp"), 4)) return "an AVIF/HEIC";
  if (/^\s*(<\?xml|<svg)/i.test(Buffer.from(b.subarray(0, 64)).toString("latin1"))) return "an SVG";
  return null;
}

/** What was declared for the part (e.g. image/gif): refused when it names an image type other than ours. */
function declaredOther(type: string | undefined): boolean {
  const t = (type ?? "").toLowerCase().split(";")[0].trim();
  return t.startsWith("image/") && !["image/png", "image/jpeg", "image/jpg", "image/webp"].includes(t);
}

/**
 * Checks an uploaded file and makes it the model's source picture (a PNG, size×size, RGB): 413 over
 * UPLOAD_MAX_BYTES, 415 not PNG/JPEG/WebP (by its bytes, or a declared type such as image/gif), 400 when it does
 * not decode or declares more than UPLOAD_MAX_PIXELS.
 */
export async function sourceFromUpload(bytes: Uint8Array, size: number, declaredType?: string): Promise<Buffer> {
  if (bytes.byteLength > UPLOAD_MAX_BYTES)
    throw new HttpError(
      413,
      `the image is larger than ${UPLOAD_MAX_BYTES / 1024 / 1024} MB (${bytes.byteLength} bytes); ${ACCEPTED} of at most 1 MB`,
    );
  if (bytes.byteLength === 0) throw new HttpError(400, `the image is empty; ${ACCEPTED}`);
  const format = sniffFormat(bytes);
  if (!format || declaredOther(declaredType))
    throw new HttpError(
      415,
      `the image is ${knownOther(bytes) ?? (declaredOther(declaredType) ? declaredType : "not an image we read")}; ${ACCEPTED}`,
    );
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw undecodable(err);
  }
  // The header says how large the picture is before any pixel is inflated: a bomb stops here.
  const { width = 0, height = 0 } = meta;
  if (width * height > UPLOAD_MAX_PIXELS)
    throw new HttpError(
      400,
      `the image is ${width}×${height} pixels, more than the ${Math.sqrt(UPLOAD_MAX_PIXELS)}×${Math.sqrt(UPLOAD_MAX_PIXELS)} accepted (a decompression bomb?); send a smaller picture`,
    );
  if (!FORMATS.includes(meta.format as UploadFormat))
    throw new HttpError(415, `the image decodes as ${meta.format}, not PNG, JPEG or WebP; ${ACCEPTED}`);
  try {
    return await fit(bytes, size);
  } catch (err) {
    throw undecodable(err);
  }
}

function undecodable(err: unknown): HttpError {
  const why = err instanceof Error ? err.message.split("\n")[0].replace(/^Input (buffer|file) /, "") : "";
  if (/pixel limit/i.test(why)) return new HttpError(400, `the image has more than ${UPLOAD_MAX_PIXELS} pixels (a decompression bomb?)`);
  return new HttpError(400, `the image cannot be decoded${why ? ` (${why})` : ""}; ${ACCEPTED}`);
}

/**
 * Any picture sharp reads (a gallery PNG, a checked upload) → a size×size RGB PNG: upright, on white, fitted whole.
 * `failOn: "truncated"` refuses a cut-off file instead of decoding half a picture; the pixel limit holds here too.
 */
export async function fit(bytes: Uint8Array, size: number): Promise<Buffer> {
  return sharp(bytes, { limitInputPixels: UPLOAD_MAX_PIXELS, failOn: "truncated", animated: false })
    .rotate()
    .flatten({ background: "#ffffff" })
    .resize(size, size, { fit: "contain", background: "#ffffff" })
    .removeAlpha()
    .toColourspace("srgb")
    .png()
    .toBuffer();
}

/** A size×size PNG → RGB pixels in [0, 1] (HWC), as the image tokenizer reads them. */
export async function sourcePixels(png: Uint8Array, size: number): Promise<Float32Array> {
  const meta = await sharp(png).metadata();
  // A stored source is already the model's size: read as is (fitting again could only blur it).
  const sized = meta.width === size && meta.height === size && !meta.hasAlpha ? Buffer.from(png) : await fit(png, size);
  const raw = await sharp(sized).removeAlpha().toColourspace("srgb").raw().toBuffer();
  if (raw.length !== size * size * 3) throw new Error(`the source picture decodes to ${raw.length} bytes, not ${size}×${size} RGB`);
  return Float32Array.from(raw, (v) => v / 255);
}
