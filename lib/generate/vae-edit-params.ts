// The request schemas of POST /api/images/[id]/variations and POST /api/blend, shared with the detail page's VAE
// tools (which import them in the browser, so this file imports nothing but zod and other browser-safe schema
// files): one set of limits and messages, and the number and body rules of POST /api/generations (./params.ts).
import { z } from "zod";
import { isRecordId } from "../ids";
import { jsonObjectError, number } from "./params";

export const VARIATIONS = Object.freeze({ kMax: 16, kDefault: 8, scaleMax: 3, scaleDefault: 1 });
export const BLEND = Object.freeze({ stepsMin: 3, stepsMax: 16, stepsDefault: 8 });
const SEED_MAX = 2 ** 31 - 1;

/** k samples of q(z|x) around the image's μ, their spread scaled by `scale` (0 = the reconstruction k times). */
export const VariationsRequest = z.strictObject(
  {
    k: number("k", 1, VARIATIONS.kMax, true).default(VARIATIONS.kDefault),
    scale: number("scale", 0, VARIATIONS.scaleMax, false).default(VARIATIONS.scaleDefault),
    /** Left out, the server picks one and answers with it, so a set can be drawn again. */
    seed: number("seed", 0, SEED_MAX, true).optional(),
  },
  { error: jsonObjectError("{k?, scale?, seed?}") },
);
export type VariationsRequest = z.infer<typeof VariationsRequest>;

const ImageId = (name: string) =>
  z
    .string({ error: `${name} must be an image id (a string)` })
    .refine(isRecordId, `${name} must be an image id (letters, digits, - and _), as in /api/images/<id>`);

/** Two gallery images (an image's id, or a generation's id for its first image) and the frames of the strip between them. */
export const BlendRequest = z.strictObject(
  {
    a: z
      .unknown()
      .refine((v) => v !== undefined, "a is required")
      .pipe(ImageId("a")),
    b: z
      .unknown()
      .refine((v) => v !== undefined, "b is required")
      .pipe(ImageId("b")),
    steps: number("steps", BLEND.stepsMin, BLEND.stepsMax, true).default(BLEND.stepsDefault),
  },
  { error: jsonObjectError("{a, b, steps?}") },
);
export type BlendRequest = z.infer<typeof BlendRequest>;

/** What both routes answer: the images as PNG data URLs, in order, and how long the model took. */
export interface VaeImages {
  images: string[];
  /** The model version whose VAE drew them. */
  model: string;
  ms: number;
}
export interface VariationsResponse extends VaeImages {
  k: number;
  scale: number;
  seed: number;
}
export interface BlendResponse extends VaeImages {
  steps: number;
}

/**
 * The image a user pasted: a bare id, or a link to one — /api/images/<id> (an image) or /gallery/<id> (a
 * generation: its first image) — with or without the site in front. Null when it is neither.
 */
export function imageRefFromInput(text: string): string | null {
  const s = text.trim();
  if (isRecordId(s)) return s;
  const m = /(?:^|\/)(?:api\/images|gallery)\/([A-Za-z0-9_-]{1,64})\/?(?:[?#].*)?$/.exec(s);
  return m ? m[1] : null;
}
