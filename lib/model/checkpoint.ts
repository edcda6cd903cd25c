// A checkpoint folder is the contract between training and serving: manifest.json (kind, config, metrics, data
// hash, tfjs version, tensor index) + weights.bin (all tensors back to back, float32 or float16, little-endian).
//
// Replacing one survives a kill at any instant: the new folder is written complete beside the old one
// (`.<name>.tmp-<pid>`, manifest last), the old is renamed aside (`.<name>.old-<pid>`), the new renamed in, and
// only then is the old removed. So once a checkpoint exists, at every instant either `<name>` is complete or a
// complete one waits beside it, and `recoverCheckpoint` (run by every save, and by a load that finds no manifest)
// puts it back.
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
  /**
   * The dataset the model was trained on: `datasetHash` (lib/data/manifest.ts), its manifest without the build time
   * and its captions. Checkpoints written before that function hashed the manifest file whole, build time included.
   */
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
  const hash = createHash("sha256");
  let offset = 0;
  for (const [name, t] of tensors) {
    const values = (await t.data()) as Float32Array;
    const typed = dtype === "float16" ? encodeHalf(values) : Float32Array.from(values);
    const buf = Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength);
    entries.push({ name, shape: t.shape, offset });
    chunks.push(buf);
    hash.update(buf);
    offset += buf.length;
  }
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
    weights: { file: "weights.bin", dtype, bytes: offset, sha256: hash.digest("hex"), tensors: entries },
    extra: options.extra ?? {},
  };
  // From here on nothing awaits, so two saves in one process never interleave on the file system.
  fs.mkdirSync(path.dirname(path.resolve(dir)), { recursive: true });
  // A save that died earlier may have left `dir` aside: put it back first, so the files below are carried over.
  recoverCheckpoint(dir);
  const tmp = sidePath(dir, "tmp", process.pid);
  removeFolder(tmp);
  fs.mkdirSync(tmp);
  writeDurably(path.join(tmp, "weights.bin"), chunks, "checkpoint:weights-partly-written");
  // Files the checkpoint's owner placed beside the weights (tokenizer.json, sample sheets) survive a re-save. They
  // are copied, not moved: until the swap below the old folder must stay whole.
  if (fs.existsSync(dir))
    for (const f of fs.readdirSync(dir)) if (!["weights.bin", "manifest.json"].includes(f)) copyTree(path.join(dir, f), path.join(tmp, f));
  crashPoint("checkpoint:extras-copied");
  // The manifest goes last: a tmp folder with a manifest (and weights that match its sha256) is complete.
  const json = Buffer.from(JSON.stringify(manifest, null, 2) + "\n");
  const half = json.length >> 1;
  writeDurably(path.join(tmp, "manifest.json"), [json.subarray(0, half), json.subarray(half)], "checkpoint:manifest-partly-written");
  fsyncPath(tmp);
  crashPoint("checkpoint:tmp-complete");
  replaceFolder(tmp, dir);
  return manifest;
}

/**
 * Moves the complete folder `src` to `dir`, replacing what is there, so that a kill at any instant leaves `dir`
 * or a complete copy beside it for `recoverCheckpoint`: the old is renamed aside, never deleted, until the new
 * one is in place.
 */
export function replaceFolder(src: string, dir: string): void {
  const old = sidePath(dir, "old", process.pid);
  removeFolder(old);
  if (fs.existsSync(dir)) {
    fs.renameSync(dir, old);
    crashPoint("swap:old-set-aside");
  }
  fs.renameSync(src, dir);
  fsyncPath(path.dirname(path.resolve(dir)));
  crashPoint("swap:new-in-place");
  removeFolder(old);
}

/**
 * Puts `dir` back after a save that was killed between setting the old folder aside and renaming the new one in,
 * and removes what dead saves left beside it. When `dir` is missing, the complete leftover wins, a tmp before an
 * old (newest first within each): a save sets the old aside only once its tmp is complete, so that tmp is what the
 * save meant to leave. Complete means a manifest that parses and weights of its size and sha256; a half-written
 * tmp never qualifies. A folder `dir` without a manifest is not ours to replace and is left as it is.
 */
export function recoverCheckpoint(dir: string): void {
  const manifestFile = path.join(dir, "manifest.json");
  let leftovers = findLeftovers(dir);
  if (!fs.existsSync(manifestFile) && leftovers.some((l) => l.pid !== process.pid && alive(l.pid))) {
    // Another process is mid-swap (a window of two renames): give it a moment rather than take its folder. A pid
    // still alive after that is a reused one, and its leftovers are stale.
    for (let i = 0; i < 100 && !fs.existsSync(manifestFile); i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    leftovers = findLeftovers(dir);
  }
  if (!fs.existsSync(dir)) {
    const complete = leftovers
      .map((l) => ({ ...l, manifest: verifiedManifest(l.path) }))
      .filter((l) => l.manifest !== null)
      .sort((a, b) => (a.kind !== b.kind ? (a.kind === "tmp" ? -1 : 1) : b.manifest!.createdAt.localeCompare(a.manifest!.createdAt)));
    if (complete.length) {
      fs.renameSync(complete[0].path, dir);
      fsyncPath(path.dirname(path.resolve(dir)));
      leftovers = leftovers.filter((l) => l.path !== complete[0].path);
    }
  }
  // Dead saves' leftovers go once `dir` is whole; while it is not, only those that could never be recovered go.
  const whole = fs.existsSync(manifestFile);
  for (const l of leftovers)
    if ((l.pid === process.pid || !alive(l.pid)) && (whole || verifiedManifest(l.path) === null)) removeFolder(l.path);
}

/**
 * A test hook for the kill -9 tests: with TESSERA_CRASH_AT=<point>[@<n>] the process kills itself with SIGKILL
 * (no cleanup, as the OOM killer or a lost machine would) the n-th time, by default the first, it reaches `point`;
 * TESSERA_CRASH_AT=list writes each point reached to stderr instead, so that a test can find every one.
 */
const crashHits = new Map<string, number>();
export function crashPoint(point: string): void {
  const want = process.env.TESSERA_CRASH_AT;
  if (!want) return;
  const n = (crashHits.get(point) ?? 0) + 1;
  crashHits.set(point, n);
  if (want === "list") fs.writeSync(2, `crash point ${point}@${n}\n`);
  else if (want === `${point}@${n}` || (want === point && n === 1)) process.kill(process.pid, "SIGKILL");
}

/** Removes a checkpoint folder, its manifest first, so that a half-removed folder never passes for a complete one. */
export function removeFolder(dir: string): void {
  if (!fs.existsSync(dir)) return;
  fs.rmSync(path.join(dir, "manifest.json"), { force: true });
  crashPoint("remove:manifest-removed");
  fs.rmSync(dir, { recursive: true, force: true });
}

function sidePath(dir: string, kind: "tmp" | "old", pid: number): string {
  const abs = path.resolve(dir);
  return path.join(path.dirname(abs), `.${path.basename(abs)}.${kind}-${pid}`);
}

function findLeftovers(dir: string): { path: string; kind: "tmp" | "old"; pid: number }[] {
  const abs = path.resolve(dir);
  const parent = path.dirname(abs);
  if (!fs.existsSync(parent)) return [];
  const prefix = `.${path.basename(abs)}.`;
  const out: { path: string; kind: "tmp" | "old"; pid: number }[] = [];
  for (const f of fs.readdirSync(parent)) {
    const m = f.startsWith(prefix) ? /^(tmp|old)-(\d+)$/.exec(f.slice(prefix.length)) : null;
    if (m) out.push({ path: path.join(parent, f), kind: m[1] as "tmp" | "old", pid: Number(m[2]) });
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The manifest of a complete checkpoint folder, or null when any part is missing, torn or does not match. */
function verifiedManifest(dir: string): CheckpointManifest | null {
  try {
    const manifest = parseManifest(path.join(dir, "manifest.json"));
    return weightsMatch(dir, manifest) ? manifest : null;
  } catch {
    return null;
  }
}

function writeDurably(file: string, parts: Buffer[], partPoint: string): void {
  const fd = fs.openSync(file, "w");
  try {
    parts.forEach((part, i) => {
      for (let at = 0; at < part.length;) at += fs.writeSync(fd, part, at);
      if (i === 0) crashPoint(partPoint);
    });
    // Renames are only as durable as the data they publish: without this a power cut could leave a renamed-in
    // folder of empty files (a kill -9 alone cannot, the page cache outlives the process).
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function fsyncPath(p: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(p, "r");
    fs.fsyncSync(fd);
  } catch {
    // Some platforms (Windows) cannot open or sync a directory; there a rename is as durable as the OS makes it.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function copyTree(src: string, dst: string): void {
  if (fs.statSync(src).isDirectory()) {
    fs.mkdirSync(dst);
    for (const f of fs.readdirSync(src)) copyTree(path.join(src, f), path.join(dst, f));
  } else fs.copyFileSync(src, dst);
}

/** The manifest of the checkpoint in `dir`, first putting the folder back if a killed save left it aside. */
export function readCheckpointManifest(dir: string): CheckpointManifest {
  const file = path.join(dir, "manifest.json");
  if (!fs.existsSync(file)) recoverCheckpoint(dir);
  return parseManifest(file);
}

function parseManifest(file: string): CheckpointManifest {
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

function weightsMatch(dir: string, manifest: CheckpointManifest): boolean {
  const bytes = fs.readFileSync(path.join(dir, manifest.weights.file));
  return bytes.length === manifest.weights.bytes && createHash("sha256").update(bytes).digest("hex") === manifest.weights.sha256;
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
