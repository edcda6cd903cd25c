// The request schema of POST /api/generations, shared with the Create form (which imports it in the browser, so
// this file imports nothing but zod): one prompt limit, one set of messages, on both sides.
import { z } from "zod";

/** Characters a prompt may hold, after trimming. */
export const PROMPT_MAX = 200;

// A prompt needs one character that shows: not only spaces, zero-width or other format characters, or marks.
const VISIBLE = /[^\p{White_Space}\p{Cf}\p{Cc}\p{M}\p{Z}]/u;
// Lone UTF-16 surrogates are not text (no database can store them); C0 controls other than tab and newlines
// have no place in a prompt (PostgreSQL cannot store NUL).
const INVALID = /\p{Cs}|[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/u;

/** A prompt as typed: a string of at most PROMPT_MAX characters once trimmed, valid text. */
export const PromptText = z
  .string({ error: "prompt must be a string" })
  .refine((s) => !INVALID.test(s), "the prompt contains characters that are not text (control characters or broken Unicode)")
  .transform((s) => s.trim())
  .pipe(
    z
      .string()
      .min(1, "the prompt is empty")
      .max(PROMPT_MAX, `the prompt is longer than ${PROMPT_MAX} characters`)
      .refine((s) => VISIBLE.test(s), "the prompt has no visible character"),
  );

/** A prompt being typed (the live token count): may be empty or blank, otherwise held to the same rules. */
export const PromptDraft = z
  .string({ error: "prompt must be a string" })
  .refine((s) => !INVALID.test(s), "the prompt contains characters that are not text (control characters or broken Unicode)")
  .refine((s) => s.trim().length <= PROMPT_MAX, `the prompt is longer than ${PROMPT_MAX} characters`);

// JSON numbers only: "4", true, [4] and null are refused with the accepted range, never coerced. Shared with the
// other request schemas of the API (./vae-edit-params.ts), so every number field answers alike.
export const number = (name: string, min: number, max: number, int: boolean) => {
  const range = `${name} must be ${int ? "a whole number" : "a number"} ${min}–${max}`;
  let n = z.number({ error: range });
  if (int) n = n.int(range);
  return n.min(min, range).max(max, range);
};

/** The error map of a strict JSON-object body: unknown fields named, anything not an object told its `shape`. */
export const jsonObjectError = (shape: string) => (issue: { code: string; keys?: string[] }) =>
  issue.code === "unrecognized_keys"
    ? `unknown field${(issue.keys?.length ?? 0) > 1 ? "s" : ""}: ${issue.keys?.join(", ")}`
    : issue.code === "invalid_type"
      ? `the body must be a JSON object ${shape}`
      : undefined;

/**
 * Which model version a request (or a token count) is for: a version's id or its name, as /models lists them; the
 * server answers 400 for one it does not know. Left out: the active model.
 */
export const ModelKey = z
  .string({ error: "model must be a string: a model version's id or name" })
  .trim()
  .min(1, "model is empty: leave it out for the active model, or give a model version's id or name")
  .max(100, "model must be at most 100 characters: a model version's id or name")
  .refine((s) => !INVALID.test(s), "model contains characters that are not text (control characters or broken Unicode)");

/**
 * Image priming (DALL·E's image-conditional generation): `init` names the picture whose top rows of codes every
 * image starts with — a gallery image, or "upload": the `image` part of a multipart/form-data request (the Create
 * page's "Start from an image") — and `keepRows` how many of its code rows are kept; the rest are sampled.
 */
export const UPLOAD_INIT = "upload";

/** Bytes an uploaded picture may have (checked by the server, lib/generate/source-image.ts, and by the Create form). */
export const UPLOAD_MAX_BYTES = 1024 * 1024;
/** The types an upload may be (by its bytes on the server; by its declared type in the form). */
export const UPLOAD_TYPES = ["image/png", "image/jpeg", "image/webp"] as const;

/** A gallery image as a priming source: its generation and its index there (0 is the first kept image). */
export const GalleryInit = z.strictObject(
  {
    generationId: z
      .string({ error: "init.generationId must be a string: a generation's id" })
      .regex(/^[A-Za-z0-9_-]{1,64}$/, "init.generationId is not a generation's id"),
    index: number("init.index", 0, 255, true),
  },
  { error: jsonObjectError("{generationId, index}") },
);
export type GalleryInit = z.infer<typeof GalleryInit>;

const INIT_SHAPE = `init must be {generationId, index} (a gallery image) or "${UPLOAD_INIT}" (the image part of a multipart/form-data request)`;
export const InitSource = z.union([z.literal(UPLOAD_INIT), GalleryInit], { error: INIT_SHAPE });
export type InitSource = z.infer<typeof InitSource>;

/**
 * Rows a request may keep, at most: the schema's bound for any model; the server holds a request to its model's
 * grid (1–7 of 8 rows on the shipped models), since keeping every row would leave nothing to sample.
 */
export const KEEP_ROWS_LIMIT = 63;

/** The most candidates any request may ask for; the server's CANDIDATES_MAX may cap lower. */
export const CANDIDATES_LIMIT = 64;

/** How many candidates a request samples when it does not say, and the most it may ask for (the server's config). */
export interface CandidateSettings {
  default: number;
  max: number;
}
/**
 * 48 by default: on models/default's own candidates (eval:rerank, 200 test prompts a set, CLIP + the exemplars'
 * vote) held-out family@1 is 46.5 / 49.0 / 50.7 / 50.0 % at 16 / 32 / 48 / 64 candidates and train exact@1
 * 46.6 / 48.0 / 50.5 / 50.4 %, while a 4-image request takes 0.35–0.39 / 0.63–0.76 / 0.96–1.12 / 1.27–1.43 s on two
 * cores (npm run bench:candidates, three quiet runs; docs/transformer/README.md, "How many candidates"): the gain
 * levels off at 48, about a second. An admin trades speed back with CANDIDATES_DEFAULT.
 */
export const CANDIDATES_FALLBACK: Readonly<CandidateSettings> = Object.freeze({ default: 48, max: CANDIDATES_LIMIT });

/** What the server offers the Create form: its candidate settings, and whether a model can rerank. */
export interface RerankOffer extends CandidateSettings {
  /** False when the model has no CLIP: requests then sample n images and rank none. */
  rerank: boolean;
}

/** The request schema under a server cap on `candidates` (the API and the form both build it with the server's cap). */
function requestSchema(cap: number) {
  return z
    .strictObject(
      {
        prompt: z
          .unknown()
          .refine((v) => v !== undefined, "prompt is required")
          .pipe(PromptText),
        n: number("n", 1, 9, true).default(4),
        // Left out, these come from the chosen model's measured defaults (SamplingDefaults, see withSamplingDefaults).
        guidance: number("guidance", 1, 10, false).optional(),
        temperature: number("temperature", 0.1, 2, false).optional(),
        topK: number("topK", 0, 512, true).optional(),
        /** Leave it out for a random seed; null is not "no seed" (it used to mean 0). */
        seed: number("seed", 0, 2 ** 31 - 1, true).optional(),
        /** Images sampled for CLIP to rank, the best n kept; left out, the server's default (see withCandidates). */
        candidates: number("candidates", 1, cap, true).optional(),
        /** The model version to generate with (id or name); left out, the active one. Stored as the job's version, not in its params. */
        model: ModelKey.optional(),
        /** Image priming: where the kept rows come from, and how many (both or neither). */
        init: InitSource.optional(),
        keepRows: number("keepRows", 1, KEEP_ROWS_LIMIT, true).optional(),
      },
      { error: jsonObjectError("{prompt, n?, guidance?, temperature?, topK?, seed?, candidates?, model?, init?, keepRows?}") },
    )
    .superRefine((r, ctx) => {
      if (r.init !== undefined && r.keepRows === undefined)
        ctx.addIssue({ code: "custom", path: ["keepRows"], message: "keepRows is required with init: how many rows of codes to keep" });
      if (r.keepRows !== undefined && r.init === undefined)
        ctx.addIssue({ code: "custom", path: ["init"], message: "keepRows needs init: the image whose rows are kept" });
      if (r.candidates !== undefined && r.candidates < r.n)
        ctx.addIssue({
          code: "custom",
          path: ["candidates"],
          message: `candidates must be at least n (${r.n}): it is how many images are sampled to keep the best n`,
        });
    });
}

const schemas = new Map<number, ReturnType<typeof requestSchema>>();

/** The request schema with `candidates` capped at `cap` (clamped to 1–CANDIDATES_LIMIT). */
export function generationParamsFor(cap: number): ReturnType<typeof requestSchema> {
  const c = Math.min(CANDIDATES_LIMIT, Math.max(1, Math.floor(cap)));
  let schema = schemas.get(c);
  if (!schema) schemas.set(c, (schema = requestSchema(c)));
  return schema;
}

/** The schema at the API's hard limit; the API itself checks requests with generationParamsFor(CANDIDATES_MAX). */
export const GenerationParams = generationParamsFor(CANDIDATES_LIMIT);
export type GenerationRequest = z.infer<typeof GenerationParams>;

/** Sampling settings a model recommends (its manifest's `extra.sampling`, written by `npm run eval:gpt`). */
export const SamplingDefaults = z.object({
  guidance: number("guidance", 1, 10, false),
  temperature: number("temperature", 0.1, 2, false),
  /** null or 0: no top-k filter. */
  topK: number("topK", 0, 512, true)
    .nullable()
    .transform((k) => k ?? 0),
});
export type SamplingDefaults = z.output<typeof SamplingDefaults>;

/**
 * For a model that has measured none. Guidance 3 / temperature 1 / top-k 64 was the app's first choice and the
 * worst column of every `eval:gpt` sweep since (docs/transformer/README.md): mild guidance and a cooler
 * temperature recognise better on held-out and train prompts alike.
 */
export const SAMPLING_FALLBACK: Readonly<SamplingDefaults> = Object.freeze({ guidance: 1.5, temperature: 0.7, topK: 0 });

/** A request with every sampling setting filled: what was asked, else the model's defaults. */
export type GenerationParams = GenerationRequest & SamplingDefaults;

export function withSamplingDefaults(request: GenerationRequest, defaults: SamplingDefaults): GenerationParams {
  return {
    ...request,
    guidance: request.guidance ?? defaults.guidance,
    temperature: request.temperature ?? defaults.temperature,
    topK: request.topK ?? defaults.topK,
  };
}

/**
 * The candidates a request samples: what it asked, else the server's default — at least n (fewer cannot yield n),
 * at most the server's cap unless n itself is more.
 */
export function withCandidates<R extends { n: number; candidates?: number }>(
  request: R,
  settings: CandidateSettings,
): R & { candidates: number } {
  const candidates = request.candidates ?? Math.max(request.n, Math.min(settings.default, settings.max));
  return { ...request, candidates };
}

/** The first problem, as the API and the form both show it. */
export function firstIssue(error: z.ZodError): string {
  return error.issues[0]?.message ?? "invalid request";
}
