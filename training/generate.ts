// `npm run generate -- "prompt" [--n 4] [--seed S] [--guidance G] [--temperature T] [--top-k K] [--candidates C]
// [--init IMAGE --keep-rows K] [--model DIR|NAME] [--out DIR]`: text → PNGs from the command line, as DALLE-pytorch's generate.py and min-dalle's
// image_from_text.py do, on the very code the server runs (loadModelBundle, the API's request schema, the model's
// measured sampling defaults, generateImages with CLIP reranking), so a result here is one the server would give.
// Writes <out>/<slug>-<seed>-<i>.png and an upscaled grid; one JSON line on stdout, everything else on stderr.
// `--init` primes every image with the top K rows of a picture's codes (PNG, JPEG or WebP, checked and fitted as the
// API checks an upload: lib/generate/source-image.ts), the rest sampled after them, as POST /api/generations does.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import sharp from "sharp";
import { z } from "zod";
import { generateImages, type GeneratedImage } from "../lib/generate/generate";
import { loadModelBundle, type ModelBundle } from "../lib/generate/model-bundle";
import {
  CANDIDATES_FALLBACK,
  CANDIDATES_LIMIT,
  generationParamsFor,
  UPLOAD_INIT,
  SAMPLING_FALLBACK,
  SamplingDefaults,
  withCandidates,
  withSamplingDefaults,
} from "../lib/generate/params";
import { sourceFromUpload } from "../lib/generate/source-image";
import { initBackend } from "../lib/tensor/backend";
import { parseArgs, runMain } from "./cli";
import { imageGridPng } from "./image-grid";
import { Progress } from "./progress";

const USAGE =
  'usage: npm run generate -- "prompt" [--n 4] [--seed S] [--guidance G] [--temperature T] [--top-k K] [--candidates C] ' +
  "[--init IMAGE --keep-rows K] [--model DIR|NAME] [--out generations]\n" +
  "  --init: a PNG, JPEG or WebP (at most 1 MB) whose top K rows of codes every image keeps (--keep-rows 1–7 on 8×8 models)\n" +
  "  --model: a model folder, or a bare name for models/<name> (default models/default); unset sampling settings come " +
  `from its manifest; --candidates (default ${CANDIDATES_FALLBACK.default}) applies only when the folder carries a CLIP`;

// Numbers arrive as text; they are turned into numbers here and judged by the API's own schema below, so the CLI
// accepts exactly what POST /api/generations accepts, with the same messages. A bare `--n` stays `true` (and is
// refused as not a number), an empty value becomes NaN rather than Number("")'s 0.
const numeric = z
  .union([z.string(), z.boolean()])
  .optional()
  .transform((v) => (typeof v === "string" ? (v.trim() === "" ? NaN : Number(v)) : v));

const Flags = z.object({
  n: numeric,
  seed: numeric,
  guidance: numeric,
  temperature: numeric,
  topK: numeric,
  candidates: numeric,
  keepRows: numeric,
  init: z.string().min(1, "a picture file (PNG, JPEG or WebP)").optional(),
  model: z.string().min(1, "a model folder, or a name under models/").default(path.join("models", "default")),
  out: z.string().min(1, "a folder to write the images into").default("generations"),
});

/** Grid cells are drawn this many times larger (nearest neighbour), so a 32×32 image is visible on a screen. */
const GRID_SCALE = 4;
/** File names keep this much of the prompt: enough to recognise it, short enough for every filesystem. */
const SLUG_MAX = 60;

export interface GenerateSummary {
  prompt: string;
  model: string;
  /** The kept images (best CLIP score first when reranked) and the grid of them. */
  files: { images: string[]; grid: string };
  seed: number;
  /** Every setting used, after the model's defaults were filled in; candidates null when not reranked. */
  settings: { n: number; guidance: number; temperature: number; topK: number; candidates: number | null };
  /** The picture the images started from and the code rows kept of it; null when not primed. */
  init: { file: string; keepRows: number } | null;
  /** Where the unset sampling settings came from: the model's manifest, or SAMPLING_FALLBACK. */
  samplingDefaults: "manifest" | "fallback";
  /** CLIP's cosine (4 decimals) of each kept image with the prompt, and of each rejected candidate; null without a CLIP. */
  scores: { kept: number[]; rejected: number[] } | null;
  warnings: { truncated: boolean; unknownWords: string[] };
  timingsMs: { load: number; tokens: number; decode: number; rerank?: number; write: number; total: number };
}

export interface GenerateIo {
  stdout?: { write(s: string): unknown };
  /** Progress bar and notes; a terminal gets a redrawn bar, a file a line per 10 %. */
  stderr?: NodeJS.WriteStream;
}

/** `--model default` means models/default; anything with a separator (or . / ..) is a path as given. */
export function resolveModelDir(model: string): string {
  const bare = !/[\\/]/.test(model) && model !== "." && model !== "..";
  return bare ? path.join("models", model) : model;
}

/** "A Red Heart, noto!" → "a-red-heart-noto": ASCII only, so every shell and filesystem takes it. */
export function promptSlug(prompt: string): string {
  const slug = prompt
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .slice(0, SLUG_MAX)
    .replace(/^-+|-+$/g, "");
  return slug || "image";
}

/** Flags and positional prompt → the API's request, validated by the API's schema; errors name the flag. */
function parseRequest(argv: string[]) {
  const { positional, flags } = parseArgs(argv, Flags, USAGE);
  const { model, out, init, ...numbers } = flags;
  // The file stands in for the API's upload: the schema then holds --keep-rows and --init to each other.
  const asked = { prompt: positional.join(" "), ...numbers, init: init === undefined ? undefined : UPLOAD_INIT };
  const raw = Object.fromEntries(Object.entries(asked).filter(([, v]) => v !== undefined));
  // The API's hard limit (64): the CLI has no server cap to respect, only the schema's.
  const parsed = generationParamsFor(CANDIDATES_LIMIT).safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = String(issue?.path[0] ?? "prompt");
    const where = key === "prompt" ? "prompt" : `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    throw new Error(`${where}: ${issue?.message ?? "invalid request"}\n${USAGE}`);
  }
  return { request: parsed.data, model, out, init };
}

/** The first line of a loader's error: `runMain` prints one line, and the folder is named once, by us. */
function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0];
}

/** Checked before the backend starts, so a typo in --model fails at once, in one line. */
function assertModelFolder(dir: string): void {
  if (!fs.existsSync(path.join(dir, "manifest.json")))
    throw new Error(
      `no model folder at ${dir} (it needs manifest.json, weights.bin and tokenizer.json): pass --model DIR, or --model NAME for models/NAME`,
    );
}

async function loadFolder(dir: string): Promise<ModelBundle> {
  try {
    return await loadModelBundle(dir);
  } catch (err) {
    throw new Error(`cannot load the model in ${dir}: ${firstLine(err)}`);
  }
}

/** The --init file's bytes, read before the model loads so that a typo fails at once. */
function readInit(file: string): Uint8Array {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new Error(`--init: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** The --init picture as the model sees it, checked as the API checks an upload; --keep-rows within the model's grid. */
async function initSource(bundle: ModelBundle, bytes: Uint8Array, keepRows: number): Promise<Buffer> {
  const grid = bundle.transformer.config.imageGrid;
  if (keepRows >= grid)
    throw new Error(`--keep-rows: must be 1–${grid - 1} (the model's images have ${grid} rows of codes), got ${keepRows}`);
  try {
    return await sourceFromUpload(bytes, bundle.imageTokenizer.config.imageSize);
  } catch (err) {
    throw new Error(`--init: ${(err as Error).message}`);
  }
}

/** A CLIP cosine to 4 decimals: finer differences mean nothing, and the JSON line stays readable. */
const score = (img: GeneratedImage): number => Math.round((img.score ?? NaN) * 1e4) / 1e4;

/** PNGs → raw HWC RGB bytes, as imageGridPng takes them (our PNGs are 3-channel, no alpha). */
async function rawRgb(png: Buffer): Promise<Uint8Array> {
  return new Uint8Array(await sharp(png).removeAlpha().raw().toBuffer());
}

/** Runs the CLI on `argv` (without node and the script) and returns what it printed as JSON. Throws on bad input. */
export async function generateMain(argv: string[], io: GenerateIo = {}): Promise<GenerateSummary> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const note = (s: string) => stderr.write(`[generate] ${s}\n`);
  const started = performance.now();
  const { request, model, out, init } = parseRequest(argv);
  const dir = resolveModelDir(model);
  assertModelFolder(dir);
  const file = init === undefined ? undefined : readInit(init);
  // The same draw as the queue's (lib/generate/queue.ts), printed so the result can be had again.
  const seed = request.seed ?? Math.floor(Math.random() * 2 ** 31);
  // Backend notes go to stderr: stdout carries only the JSON line, for `| jq` and scripts.
  await initBackend({ log: { info: (s: string) => stderr.write(`${s}\n`), warn: (s: string) => stderr.write(`${s}\n`) } });
  const bundle = await loadFolder(dir);
  try {
    const loadMs = performance.now() - started;
    if (request.seed === undefined) note(`seed ${seed} (pass --seed ${seed} to get these images again)`);
    // As the server fills them (lib/generate/sampling-defaults.ts): the manifest's measured settings, else the fallback.
    const measured = SamplingDefaults.safeParse(bundle.manifest.extra.sampling);
    const defaults = measured.success ? measured.data : { ...SAMPLING_FALLBACK };
    const sampling = withSamplingDefaults(request, defaults);
    // As the API does: without a CLIP there is nothing to rank, so n are sampled whatever --candidates says.
    const rerank = bundle.clip !== undefined;
    if (!rerank && request.candidates !== undefined)
      note(`${dir} carries no CLIP: --candidates is ignored, n = ${request.n} images are sampled`);
    const candidates = rerank ? withCandidates(sampling, CANDIDATES_FALLBACK).candidates : null;

    const primed =
      file && request.keepRows !== undefined
        ? { source: await initSource(bundle, file, request.keepRows), keepRows: request.keepRows }
        : undefined;
    const sampled = candidates ?? sampling.n;
    const side = bundle.transformer.config.imageGrid; // codes per image: side × side
    const bar = new Progress(`tokens of ${sampled} image${sampled > 1 ? "s" : ""}`, side * side, stderr);
    const result = await generateImages(
      bundle,
      {
        prompt: sampling.prompt,
        n: sampling.n,
        guidance: sampling.guidance,
        temperature: sampling.temperature,
        // 0 is "no top-k filter", as the worker passes it.
        topK: sampling.topK || undefined,
        seed,
        candidates: candidates ?? undefined,
        init: primed,
      },
      {
        onProgress: ({ done }) => bar.update(done),
      },
    );
    bar.finish();
    const { truncated, unknownWords } = result.warnings;
    if (truncated) note(`the prompt is longer than the model's ${bundle.transformer.config.textLen} text tokens: the rest was dropped`);
    if (unknownWords.length) note(`words the model never saw in training: ${unknownWords.join(", ")}`);

    const writeStarted = performance.now();
    fs.mkdirSync(out, { recursive: true });
    const stem = `${promptSlug(sampling.prompt)}-${seed}`;
    const images = result.images.map((_, i) => path.join(out, `${stem}-${i}.png`));
    await Promise.all(result.images.map((img, i) => fs.promises.writeFile(images[i], img.png)));
    const grid = path.join(out, `${stem}-grid.png`);
    const size = bundle.imageTokenizer.config.imageSize;
    const cols = Math.ceil(Math.sqrt(result.images.length));
    await imageGridPng(await Promise.all(result.images.map((img) => rawRgb(img.png))), size, cols, grid, GRID_SCALE);
    const writeMs = performance.now() - writeStarted;

    const summary: GenerateSummary = {
      prompt: sampling.prompt,
      model: dir,
      files: { images, grid },
      seed,
      settings: { n: sampling.n, guidance: sampling.guidance, temperature: sampling.temperature, topK: sampling.topK, candidates },
      init: init !== undefined && primed ? { file: init, keepRows: primed.keepRows } : null,
      samplingDefaults: measured.success ? "manifest" : "fallback",
      scores: rerank ? { kept: result.images.map(score), rejected: result.rejected.map(score) } : null,
      warnings: { truncated, unknownWords },
      timingsMs: {
        load: Math.round(loadMs),
        tokens: result.timingsMs.tokens,
        decode: result.timingsMs.decode,
        ...(result.timingsMs.rerank !== undefined ? { rerank: result.timingsMs.rerank } : {}),
        write: Math.round(writeMs),
        total: Math.round(performance.now() - started),
      },
    };
    note(`wrote ${images.length} image${images.length > 1 ? "s" : ""} and ${grid}`);
    stdout.write(`${JSON.stringify(summary)}\n`);
    return summary;
  } finally {
    bundle.dispose();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  runMain("generate", async () => {
    await generateMain(process.argv.slice(2));
  });
}
