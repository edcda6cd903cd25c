// What GET /api/models/[id]/browser tells a page about running a model version itself (issue 33): the transformer's
// config and sampling defaults, the ONNX graphs' input/output names, and every file with its content-hashed name
// and size (the page shows the download before it starts; the names never change meaning, so the files are cached
// as immutable). Types only: the server builds it (lib/generate/browser-files.ts), the page reads it.
import type { DecodeStepGraph } from "../model/onnx/export-decoder";
import type { ImageDecoderGraph } from "../model/onnx/export-image-decoder";
import type { PrefillGraph } from "../model/onnx/export-prefill";
import type { TransformerConfig } from "../model/transformer-config";

export type BrowserFileRole = "prefill" | "step" | "decoder" | "tokenizer" | "tokenizerConfig" | "vocab" | "runtime";

export interface BrowserFile {
  role: BrowserFileRole;
  /** Where to fetch it: its name holds a hash of its bytes. */
  url: string;
  /** The same bytes gzipped, for a page that can inflate them (DecompressionStream): a quarter of the wasm's size. */
  gzipUrl: string;
  bytes: number;
}

export interface BrowserManifest {
  model: { id: string; name: string };
  config: TransformerConfig;
  /** The model's sampling defaults: what the server would fill in for settings the page leaves out. */
  sampling: { guidance: number; temperature: number; topK: number };
  image: { size: number; grid: number; channels: number };
  /** Positions the prefill's cache has room for. */
  capacity: number;
  names: { prefill: PrefillGraph["names"]; step: DecodeStepGraph["names"]; decoder: ImageDecoderGraph["names"] };
  files: BrowserFile[];
  /** Every file together (the model's graphs, tokenizer and the ONNX Runtime wasm). */
  totalBytes: number;
  /** Browser runs are never reranked with CLIP: the page samples exactly n images. */
  reranked: false;
}
