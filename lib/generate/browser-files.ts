// The files a page needs to generate with a model version itself (issue 33): its prefill, decode-step and image
// decoder exported as ONNX graphs, its text tokenizer's three JSON files, and onnxruntime-web's wasm binary. Each
// is named by a hash of its bytes, so a route can serve it with an immutable cache header: a new export (new
// weights) is a new name. Exported once per loaded bundle (~0.1 s) and kept while the bundle is.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { BrowserFile, BrowserFileRole, BrowserManifest } from "../browser/manifest";
import { exportDecodeStep } from "../model/onnx/export-decoder";
import { exportImageDecoder } from "../model/onnx/export-image-decoder";
import { exportPrefill } from "../model/onnx/export-prefill";
import { TEXT_VOCAB_FILE } from "../text/tokenizer";
import type { ModelBundle } from "./model-bundle";
import type { SamplingDefaults } from "./params";

export interface StoredFile {
  bytes: Uint8Array;
  contentType: string;
}

export interface BrowserFiles {
  /** The manifest without the model's id and name and with file names instead of addresses. */
  manifest: Omit<BrowserManifest, "model" | "files"> & { files: (Omit<BrowserFile, "url" | "gzipUrl"> & { name: string })[] };
  /** By hashed name. */
  files: Map<string, StoredFile>;
}

/** A file name: its role, 16 hex digits of the SHA-256 of its bytes, its extension. */
const hashedName = (stem: string, bytes: Uint8Array, ext: string) =>
  `${stem}.${createHash("sha256").update(bytes).digest("hex").slice(0, 16)}.${ext}`;

/** onnxruntime-web's single-threaded SIMD wasm (what ort.wasm.bundle needs), read once per process. */
let runtime: { name: string; file: StoredFile } | undefined;
export function runtimeWasm(): { name: string; file: StoredFile } {
  if (!runtime) {
    const file = path.join(/*turbopackIgnore: true*/ process.cwd(), "node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm");
    const bytes = new Uint8Array(fs.readFileSync(file));
    runtime = { name: hashedName("ort-wasm-simd-threaded", bytes, "wasm"), file: { bytes, contentType: "application/wasm" } };
  }
  return runtime;
}

const built = new WeakMap<ModelBundle, BrowserFiles>();

export function browserFilesFor(bundle: ModelBundle, sampling: SamplingDefaults): BrowserFiles {
  const hit = built.get(bundle);
  if (hit) return hit;
  const prefill = exportPrefill(bundle.transformer);
  const step = exportDecodeStep(bundle.transformer);
  const decoder = exportImageDecoder(bundle.imageTokenizer);
  const files = new Map<string, StoredFile>();
  const listed: BrowserFiles["manifest"]["files"] = [];
  const add = (role: BrowserFileRole, stem: string, bytes: Uint8Array, ext: string, contentType: string) => {
    const name = hashedName(stem, bytes, ext);
    files.set(name, { bytes, contentType });
    listed.push({ role, name, bytes: bytes.byteLength });
  };
  add("prefill", "prefill", prefill.bytes, "onnx", "application/octet-stream");
  add("step", "decode-step", step.bytes, "onnx", "application/octet-stream");
  add("decoder", "image-decoder", decoder.bytes, "onnx", "application/octet-stream");
  const json = (f: string) => new Uint8Array(fs.readFileSync(path.join(/*turbopackIgnore: true*/ bundle.dir, f)));
  add("tokenizer", "tokenizer", json("tokenizer.json"), "json", "application/json");
  add("tokenizerConfig", "tokenizer-config", json("tokenizer_config.json"), "json", "application/json");
  add("vocab", "text-vocab", json(TEXT_VOCAB_FILE), "json", "application/json");
  const wasm = runtimeWasm();
  listed.push({ role: "runtime", name: wasm.name, bytes: wasm.file.bytes.byteLength });
  const vq = bundle.imageTokenizer.config;
  const result: BrowserFiles = {
    manifest: {
      config: bundle.transformer.config,
      sampling: { guidance: sampling.guidance, temperature: sampling.temperature, topK: sampling.topK },
      image: { size: vq.imageSize, grid: decoder.grid, channels: vq.channels },
      capacity: prefill.capacity,
      names: { prefill: prefill.names, step: step.names, decoder: decoder.names },
      files: listed,
      totalBytes: listed.reduce((s, f) => s + f.bytes, 0),
      reranked: false,
    },
    files,
  };
  built.set(bundle, result);
  return result;
}

/** Files are served forever under their hashed names. */
export const IMMUTABLE = "public, max-age=31536000, immutable";
