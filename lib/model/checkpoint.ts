// A checkpoint folder is the contract between training and serving: manifest.json (kind, config, metrics, data
// hash, tfjs version, tensor index) + weights.bin (all tensors back to back, float32 or float16, little-endian).
// Written to a temporary folder and renamed into place, so a crash mid-save never destroys the previous one.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { z } from "zod";
import { decodeHalf, encodeHalf } from "./float16";
import type { ParamStore } from "./params";

const TensorEntry = z.object({
  name: z.string(),
  shape: z.array(z.number().int().nonnegative()),
  /** Byte offset in weights.bin. */
  offset: z.number().int().nonnegative(),
});

export const CheckpointManifest = z.object({
  format: z.literal("tessera-checkpoint"),
  version: z.literal(1),
  kind: z.string(),
  config: z.record(z.string(), z.unknown()),
  metrics: z.record(z.string(), z.unknown()).default({}),
  /** sha256 of the dataset manifest the model was trained on. */
  dataHash: z.string().nullable(),
  tfjsVersion: z.string(),
  createdAt: z.string(),
  step: z.number().int().nonnegative().default(0),
  weights: z.object({
    file: z.string(),
    dtype: z.enum(["float32", "float16"]),
    bytes: z.number().int().nonnegative(),
    sha256: z.string(),
    tensors: z.array(TensorEntry),
  }),
  /** Anything else the owner wants to keep (training state such as the data stream position). */
  extra: z.record(z.string(), z.unknown()).default({}),
});
export type CheckpointManifest = z.infer<typeof CheckpointManifest>;

export interface SaveOptions {
  kind: string;
  config: object;
  metrics?: Record<string, unknown>;
  dataHash?: string | null;
  step?: number;
  dtype?: "float32" | "float16";
  extra?: Record<string, unknown>;
}

export async function saveCheckpoint(dir: string, tensors: Map<string, tf.Tensor>, options: SaveOptions): Promise<CheckpointManifest> {
  const dtype = options.dtype ?? "float32";
  const chunks: Buffer[] = [];
  const entries: z.infer<typeof TensorEntry>[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    const values = (await t.data()) as Float32Array;
    const typed = dtype === "float16" ? encodeHalf(values) : Float32Array.from(values);
    const buf = Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength);
    entries.push({ name, shape: t.shape, offset });
    chunks.push(buf);
    offset += buf.length;
  }
  const weights = Buffer.concat(chunks);
  const manifest: CheckpointManifest = {
    format: "tessera-checkpoint",
    version: 1,
    kind: options.kind,
    config: options.config as Record<string, unknown>,
    metrics: options.metrics ?? {},
    dataHash: options.dataHash ?? null,
    tfjsVersion: tf.version.tfjs,
    createdAt: new Date().toISOString(),
    step: options.step ?? 0,
    weights: {
      file: "weights.bin",
      dtype,
      bytes: weights.length,
      sha256: createHash("sha256").update(weights).digest("hex"),
      tensors: entries,
    },
    extra: options.extra ?? {},
  };
  const parent = path.dirname(path.resolve(dir));
  fs.mkdirSync(parent, { recursive: true });
  const tmp = path.join(parent, `.${path.basename(dir)}.tmp-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp);
  fs.writeFileSync(path.join(tmp, "weights.bin"), weights);
  fs.writeFileSync(path.join(tmp, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
  // Files the checkpoint's owner placed beside the weights (tokenizer.json, sample sheets) survive a re-save.
  if (fs.existsSync(dir)) {
    for (const f of fs.readdirSync(dir))
      if (!["weights.bin", "manifest.json"].includes(f)) fs.renameSync(path.join(dir, f), path.join(tmp, f));
    fs.rmSync(dir, { recursive: true, force: true });
  }
  fs.renameSync(tmp, dir);
  return manifest;
}

export function readCheckpointManifest(dir: string): CheckpointManifest {
  const file = path.join(dir, "manifest.json");
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`cannot read checkpoint manifest ${file}: ${(err as Error).message}`);
  }
  const parsed = CheckpointManifest.safeParse(raw);
  if (!parsed.success)
    throw new Error(
      `${file} is not a Tessera checkpoint: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  return parsed.data;
}

/** Loads every tensor (as float32), verifying the weights' checksum and each tensor's extent. */
export function loadCheckpoint(dir: string): { manifest: CheckpointManifest; tensors: Map<string, tf.Tensor> } {
  const manifest = readCheckpointManifest(dir);
  const file = path.join(dir, manifest.weights.file);
  const bytes = fs.readFileSync(file);
  const sum = createHash("sha256").update(bytes).digest("hex");
  if (bytes.length !== manifest.weights.bytes || sum !== manifest.weights.sha256) {
    throw new Error(
      `${file} is corrupt: ${bytes.length} bytes with sha256 ${sum.slice(0, 12)}…, the manifest says ${manifest.weights.bytes} bytes, ${manifest.weights.sha256.slice(0, 12)}…`,
    );
  }
  const width = manifest.weights.dtype === "float16" ? 2 : 4;
  const tensors = new Map<string, tf.Tensor>();
  for (const e of manifest.weights.tensors) {
    const n = e.shape.reduce((a, b) => a * b, 1);
    if (e.offset + n * width > bytes.length) throw new Error(`${file}: tensor ${e.name} runs past the end of the file`);
    const slice = bytes.subarray(e.offset, e.offset + n * width);
    const copy = new Uint8Array(slice).buffer; // aligned copy
    const values = width === 2 ? decodeHalf(new Uint16Array(copy)) : new Float32Array(copy);
    tensors.set(e.name, tf.tensor(values, e.shape, "float32"));
  }
  return { manifest, tensors };
}

/**
 * Loads a checkpoint of one of `kinds` into a model built from its config: the model is disposed again if the
 * weights do not fit, and the loaded tensors are always released.
 */
export function restoreModel<M extends { params: ParamStore; dispose(): void }>(
  dir: string,
  kinds: string[],
  build: (config: Record<string, unknown>) => M,
): { model: M; manifest: CheckpointManifest } {
  const { manifest, tensors } = loadCheckpoint(dir);
  try {
    if (!kinds.includes(manifest.kind)) throw new Error(`${dir} holds a "${manifest.kind}" checkpoint, expected ${kinds.join(" or ")}`);
    const model = build(manifest.config);
    try {
      model.params.load(tensors, dir);
    } catch (err) {
      model.dispose();
      throw err;
    }
    return { model, manifest };
  } finally {
    tf.dispose([...tensors.values()]);
  }
}
