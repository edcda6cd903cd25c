// Variations and blends of gallery images with the active model's VAE (`<model folder>/lab/vae/`, written by
// `npm run train:lab -- --model vae --export …`). A folder without one simply has the feature off (503, and the
// detail page says so). The routes read the pictures from the database on the web thread and hand the tensor work
// to the VAE threads (./vae-threads.ts), which run variationsOfPng / blendOfPngs below: even a few ms of tensor
// work per request, times many clients, would hold up every other request on the event loop.
//
// Loaded VAEs are cached per folder in the thread that uses them (re-read when its manifest changes). Each request
// uses its model in one synchronous stretch (load, encode, decode, read the pixels), so no other request can evict it
// mid-way.
import fs from "node:fs";
import path from "node:path";
import { threadId } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import sharp from "sharp";
import { HttpError } from "../api";
import type { Db } from "../db/client";
import { getGeneration } from "../db/generations";
import { getImagePng } from "../db/images";
import { ImageFileMissing } from "../db/image-store";
import { findActiveModelVersion } from "../db/versions";
import { shownId } from "../ids";
import { VAE } from "../model/vae";
import { serverEnv } from "../env";
import { labDir } from "../lab";
import { initBackend } from "../tensor/backend";
import { pngDataUrl, rgbToPngs } from "./png";
import type { BlendRequest, BlendResponse, VariationsRequest, VariationsResponse } from "./vae-edit-params";
import { vaeThreads, type VaeThreadResult } from "./vae-threads";

/** Where a model folder keeps its VAE. */
export function vaeDirOf(modelDir: string): string {
  return labDir(modelDir, "vae");
}

const TRAIN_HINT = "train one with npm run train:lab -- --model vae --export <model folder>/lab/vae";

export type VaeAvailability = { on: true; model: string; dir: string } | { on: false; reason: string };

/**
 * Below this share of variations that keep their source's label family (`npm run eval:lab`, read by the nearest
 * training image), a VAE's variations are not pictures worth offering: brown blobs, as the first lab VAE drew.
 */
export const MIN_VARIATION_KEEP = 0.5;

/**
 * The share of this VAE's variations that keep their source's label family, as `npm run eval:lab` measured it into
 * the model folder's lab/eval-lab.json — only when that file scored these very weights (same sha256) — else null.
 */
export function measuredVariationKeep(modelDir: string, vaeDir: string): number | null {
  try {
    const j = JSON.parse(fs.readFileSync(path.join(/*turbopackIgnore: true*/ modelDir, "lab", "eval-lab.json"), "utf8"));
    const m = JSON.parse(fs.readFileSync(path.join(/*turbopackIgnore: true*/ vaeDir, "manifest.json"), "utf8"));
    const keep = j?.variations?.VAE?.keepsFamilyPixels;
    return typeof keep === "number" && typeof j.vaeWeights === "string" && j.vaeWeights === m?.weights?.sha256 ? keep : null;
  } catch {
    return null;
  }
}

/**
 * Whether the active model has a VAE worth offering (file checks, nothing loaded): the detail page shows the tools
 * or says why not, and the API answers 503 with the same reason.
 */
export async function vaeAvailability(db: Db, root = process.cwd()): Promise<VaeAvailability> {
  const version = await findActiveModelVersion(db);
  if (!version) return { on: false, reason: "no model version is active" };
  const modelDir = path.resolve(root, version.path);
  const dir = vaeDirOf(modelDir);
  if (!fs.existsSync(path.join(/*turbopackIgnore: true*/ dir, "manifest.json")))
    return { on: false, reason: `the active model ${version.name} has no VAE (${TRAIN_HINT})` };
  const keep = measuredVariationKeep(modelDir, dir);
  if (keep !== null && keep < MIN_VARIATION_KEEP)
    return {
      on: false,
      reason:
        `the VAE of ${version.name} does not make variations worth showing: only ${(100 * keep).toFixed(0)} % of them keep ` +
        `their picture's label family (npm run eval:lab; ${(100 * MIN_VARIATION_KEEP).toFixed(0)} % needed) — retrain it ` +
        "with npm run train:lab -- --model vae --preset logistic",
    };
  return { on: true, model: version.name, dir };
}

interface Cached {
  stamp: string;
  model: VAE;
}
// On globalThis: Next bundles each route separately, and both routes should share one loaded VAE.
const state = globalThis as unknown as { tesseraVaes?: Map<string, Cached> };
const CACHED_VAES = 2;

/** The VAE in `dir`, loaded once per version of its manifest; the least recently used beyond two is disposed. */
function vaeAt(dir: string): VAE {
  const cache = (state.tesseraVaes ??= new Map());
  const st = fs.statSync(path.join(/*turbopackIgnore: true*/ dir, "manifest.json"));
  const stamp = `${st.mtimeMs}:${st.size}`;
  let entry = cache.get(dir);
  if (entry && entry.stamp !== stamp) {
    entry.model.dispose();
    cache.delete(dir);
    entry = undefined;
  }
  entry ??= { stamp, model: VAE.load(dir).model };
  cache.delete(dir);
  cache.set(dir, entry);
  for (const [key, old] of cache) {
    if (cache.size <= CACHED_VAES) break;
    old.model.dispose();
    cache.delete(key);
  }
  return entry.model;
}

/** The side of the images the VAE in `dir` reads and draws. */
function imageSizeOf(dir: string): number {
  return vaeAt(dir).config.imageSize;
}

/** Frees every cached VAE (tests; a server never needs to). */
export function disposeVaeCache(): void {
  for (const { model } of state.tesseraVaes?.values() ?? []) model.dispose();
  state.tesseraVaes?.clear();
}

/** A gallery image's PNG by image id or, failing that, a generation's first kept image; 404 when neither exists. */
async function galleryPng(db: Db, id: string): Promise<Uint8Array> {
  try {
    const image = await getImagePng(db, id);
    if (image) return image.png;
    const first = (await getGeneration(db, id))?.images[0];
    const cover = first ? await getImagePng(db, first.id) : null;
    if (cover) return cover.png;
  } catch (err) {
    if (err instanceof ImageFileMissing) throw new HttpError(500, `image ${shownId(id)} cannot be read: ${err.message}`);
    throw err;
  }
  throw new HttpError(404, `no image with id ${shownId(id)}`);
}

/** PNG → RGB pixels in [0, 1] at `size`×`size` (transparency on white, as the gallery shows it; resized if it differs). */
export async function pngToPixels(png: Uint8Array, size: number): Promise<Float32Array> {
  const img = sharp(Buffer.from(png)).flatten({ background: "#ffffff" });
  const meta = await sharp(Buffer.from(png)).metadata();
  const sized = meta.width === size && meta.height === size ? img : img.resize(size, size, { fit: "fill" });
  const raw = await sized.removeAlpha().toColourspace("srgb").raw().toBuffer();
  if (raw.length !== size * size * 3) throw new HttpError(422, `the image decodes to ${raw.length} bytes, not ${size}×${size} RGB`);
  return Float32Array.from(raw, (v) => v / 255);
}

async function toDataUrls(bytes: Uint8Array, count: number, size: number): Promise<string[]> {
  return (await rgbToPngs(bytes, count, size)).map(pngDataUrl);
}

/** Runs `draw` on the VAE with the given images ([1, S, S, 3] each) and returns its output as uint8 RGB, synchronously. */
function drawWith(
  dir: string,
  inputs: Float32Array[],
  draw: (vae: VAE, images: tf.Tensor4D[]) => tf.Tensor4D,
): { bytes: Uint8Array; count: number } {
  const vae = vaeAt(dir);
  const s = vae.config.imageSize;
  return tf.tidy(() => {
    const images = inputs.map((p) => tf.tensor4d(p, [1, s, s, 3])); // [1, S, S, 3]
    const out = draw(vae, images); // [N, S, S, 3]
    const bytes = tf.cast(tf.round(tf.mul(out, 255)), "int32");
    return { bytes: Uint8Array.from(bytes.dataSync()), count: out.shape[0] };
  });
}

async function activeVaeDir(db: Db): Promise<{ dir: string; model: string }> {
  const a = await vaeAvailability(db);
  if (!a.on) throw new HttpError(503, `variations and blends are off: ${a.reason}`);
  return { dir: a.dir, model: a.model };
}

/** The images of one request, the model's ms, and the worker_threads id of the thread that did the work. */
export interface VaeWork {
  images: string[];
  ms: number;
  threadId: number;
}

/** The VAE's work for one variations request on a PNG (no database): what a VAE thread and the benchmark run. */
export async function variationsOfPng(dir: string, png: Uint8Array, k: number, scale: number, seed: number): Promise<VaeWork> {
  await initBackend();
  const size = imageSizeOf(dir);
  const pixels = await pngToPixels(png, size);
  const started = performance.now();
  const out = drawWith(dir, [pixels], (m, [x]) => m.variations(x, k, scale, seed));
  const ms = Math.round(performance.now() - started);
  return { images: await toDataUrls(out.bytes, out.count, size), ms, threadId };
}

/** The VAE's work for one blend request on two PNGs (no database). */
export async function blendOfPngs(dir: string, a: Uint8Array, b: Uint8Array, steps: number): Promise<VaeWork> {
  await initBackend();
  const size = imageSizeOf(dir);
  const [pa, pb] = [await pngToPixels(a, size), await pngToPixels(b, size)];
  const started = performance.now();
  const out = drawWith(dir, [pa, pb], (m, [x, y]) => m.blend(x, y, steps));
  const ms = Math.round(performance.now() - started);
  return { images: await toDataUrls(out.bytes, out.count, size), ms, threadId };
}

/** Where a request's tensor work ran (the tests: never the main thread) and that thread's tensor count after it. */
export type RanOn = Pick<VaeThreadResult, "threadId" | "tensors">;

const pool = () => vaeThreads(serverEnv());

/**
 * `k` variations of a gallery image (samples of q(z|x) at `scale`× its spread), as PNG data URLs, drawn on a VAE
 * thread within `clientId`'s limits (429 beyond them).
 */
export async function vaeVariations(
  db: Db,
  imageId: string,
  request: VariationsRequest,
  clientId: string,
): Promise<{ body: VariationsResponse; ranOn: RanOn }> {
  const png = await galleryPng(db, imageId);
  const vae = await activeVaeDir(db);
  const seed = request.seed ?? Math.floor(Math.random() * 2 ** 31);
  const {
    images,
    ms,
    threadId: id,
    tensors,
  } = await pool().run({ kind: "variations", dir: vae.dir, png, k: request.k, scale: request.scale, seed }, clientId);
  return { body: { images, ms, model: vae.model, k: request.k, scale: request.scale, seed }, ranOn: { threadId: id, tensors } };
}

/** A strip of `steps` images from gallery image a to b (decoded interpolations of their μ), drawn on a VAE thread. */
export async function vaeBlend(db: Db, request: BlendRequest, clientId: string): Promise<{ body: BlendResponse; ranOn: RanOn }> {
  const [a, b] = [await galleryPng(db, request.a), await galleryPng(db, request.b)];
  const vae = await activeVaeDir(db);
  const { images, ms, threadId: id, tensors } = await pool().run({ kind: "blend", dir: vae.dir, a, b, steps: request.steps }, clientId);
  return { body: { images, ms, model: vae.model, steps: request.steps }, ranOn: { threadId: id, tensors } };
}
