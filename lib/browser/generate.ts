// Generation in a page (issue 33), with whichever ONNX Runtime the caller passes: onnxruntime-web in the browser
// (./load.ts), onnxruntime-node in the tests that hold it to the server's codes. The chain is the server's own:
// the text tokenizer (./text.ts), the prefill and decode-step graphs run by ../model/onnx/decode-state.ts, the one
// sampling loop with its seeded streams (../model/sample-loop.ts), and the image decoder graph for the pictures.
// No CLIP: browser runs are not reranked (exactly n images are sampled).
import type { InferenceSession, Tensor } from "onnxruntime-common";
import { OnnxDecodeEngine } from "../model/onnx/decode-state";
import { runSampleLoop } from "../model/sample-loop";
import type { TextTokenizerCore } from "../text/text-tokenizer";
import type { BrowserManifest } from "./manifest";
import { browserTextTokenizer } from "./text";

/** What this file needs of an ONNX Runtime package (onnxruntime-web and onnxruntime-node both have it). */
export interface OrtPackage {
  Tensor: typeof Tensor;
  InferenceSession: { create(bytes: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession> };
}

export interface PageModel {
  manifest: BrowserManifest;
  text: TextTokenizerCore;
  engine: OnnxDecodeEngine;
  decoder: InferenceSession;
  ort: OrtPackage;
}

/** The fetched files' bytes, by role. */
export type FileBytes = Record<"prefill" | "step" | "decoder" | "tokenizer" | "tokenizerConfig" | "vocab", Uint8Array>;

const SESSION_OPTIONS: InferenceSession.SessionOptions = { executionMode: "sequential", graphOptimizationLevel: "all" };

export async function openPageModel(ort: OrtPackage, manifest: BrowserManifest, files: FileBytes): Promise<PageModel> {
  const json = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b)) as object;
  const text = browserTextTokenizer(
    json(files.tokenizer),
    json(files.tokenizerConfig),
    json(files.vocab) as { words: Record<string, number> },
  );
  const [prefill, step, decoder] = await Promise.all(
    [files.prefill, files.step, files.decoder].map((b) => ort.InferenceSession.create(b, { ...SESSION_OPTIONS })),
  );
  const engine = new OnnxDecodeEngine(ort, manifest.config, {
    prefill,
    step,
    prefillNames: manifest.names.prefill,
    stepNames: manifest.names.step,
    capacity: manifest.capacity,
  });
  return { manifest, text, engine, decoder, ort };
}

/** Settings of one run, every one given (the page fills what the visitor left out with the model's defaults). */
export interface PageSettings {
  prompt: string;
  n: number;
  guidance: number;
  temperature: number;
  topK: number;
  seed: number;
}

/** Samples n code grids (h·w each) for the prompt; `onToken` sees the grids so far (−1 where not yet written). */
export async function sampleInPage(
  m: PageModel,
  s: PageSettings,
  onToken?: (p: { index: number; total: number; codes: Int32Array[] }) => void | Promise<void>,
): Promise<Int32Array[]> {
  const len = m.manifest.config.textLen;
  const ids = m.text.encode(s.prompt, len).ids;
  const group = { texts: [ids], n: s.n, guidance: s.guidance, temperature: s.temperature, topK: s.topK || undefined, seed: s.seed };
  const [codes] = await runSampleLoop(m.manifest.config, m.engine, [group], m.text.encodeNull(len), (p) =>
    onToken?.({ index: p.index, total: p.total, codes: p.codes[0] }),
  );
  return codes;
}

/** Code grids (−1 drawn as code 0, as the server's decodeCodes) → RGBA pixels of each image [S, S, 4], for a canvas. */
export async function decodeInPage(m: PageModel, codes: Int32Array[]): Promise<Uint8ClampedArray[]> {
  const { grid, size, channels } = m.manifest.image;
  const flat = new Int32Array(codes.length * grid * grid);
  codes.forEach((c, i) => c.forEach((v, j) => (flat[i * grid * grid + j] = v < 0 ? 0 : v)));
  const names = m.manifest.names.decoder;
  const out = await m.decoder.run({ [names.codes]: new m.ort.Tensor("int32", flat, [codes.length, grid, grid]) });
  const px = out[names.images].data as Float32Array; // [B, S, S, C] in [0, 1]
  return codes.map((_, b) => {
    const rgba = new Uint8ClampedArray(size * size * 4);
    for (let p = 0; p < size * size; p++) {
      // Rounded as the server's PNGs are: round(x · 255).
      for (let ch = 0; ch < 3; ch++) rgba[p * 4 + ch] = Math.round(px[(b * size * size + p) * channels + Math.min(ch, channels - 1)] * 255);
      rgba[p * 4 + 3] = 255;
    }
    return rgba;
  });
}
