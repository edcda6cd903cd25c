// A generation a visitor's browser sampled, into the gallery without trusting the client (issue 33): the body is
// the API's own request plus codes (./browser-post-params.ts); every setting is checked by the API's schema and
// every code against the model's grid and codebook; the server decodes the codes itself (no pixels are taken from
// the client) and stores a normal generation marked "made in the browser". Refused posts store nothing.
import { storeBrowserGeneration } from "../db/browser-generations";
import type { Db } from "../db/client";
import type { ModelRegistry } from "./registry";
import { codesToPngs } from "./batch";
import { BrowserPost } from "./browser-post-params";
import { chooseModel } from "./models";
import { admit, QueueFullError, type AdmissionOptions } from "./queue";
import { firstIssue, withSamplingDefaults } from "./params";
import { samplingDefaultsFor } from "./sampling-defaults";

export type PostAnswer = { ok: true; id: string; seed: number } | { ok: false; status: number; message: string; retryAfterS?: number };

/** QUEUE_LIMIT and QUEUE_LIMIT_PER_CLIENT: a browser post is admitted by the queue's own check (./queue.ts admit). */
export type PostLimits = Omit<AdmissionOptions, "clientId">;

/** The codes as the model's grids, or why not: each grid h·w codes, every code in [0, K). */
export function checkCodes(codes: number[][], grid: number, vocab: number): string | null {
  for (const [i, g] of codes.entries()) {
    if (g.length !== grid * grid) return `code grid ${i} has ${g.length} codes; this model's grid holds ${grid * grid}`;
    const bad = g.findIndex((c) => c >= vocab);
    if (bad >= 0) return `code grid ${i} has code ${g[bad]} at ${bad}; this model's codes are 0–${vocab - 1}`;
  }
  return null;
}

export async function acceptBrowserGeneration(
  db: Db,
  registry: ModelRegistry,
  body: unknown,
  clientId: string,
  limits: PostLimits,
): Promise<PostAnswer> {
  const parsed = BrowserPost.safeParse(body);
  if (!parsed.success) return { ok: false, status: 400, message: firstIssue(parsed.error) };
  const { request, codes } = parsed.data;
  const { model: key, ...asked } = request;
  const choice = await chooseModel(db, key);
  if (!choice.ok) return choice;
  const model = choice.model;
  try {
    await admit(db, { ...limits, clientId });
  } catch (err) {
    if (err instanceof QueueFullError) return { ok: false, status: 429, message: err.message, retryAfterS: err.retryAfterS };
    throw err;
  }
  const lease = await registry.acquire(model.id);
  try {
    const c = lease.bundle.transformer.config;
    const wrong = checkCodes(codes, c.imageGrid, c.imageVocab);
    if (wrong) return { ok: false, status: 400, message: wrong };
    const params = withSamplingDefaults(asked, samplingDefaultsFor(model.path));
    const grids = codes.map((g) => Int32Array.from(g));
    const started = performance.now();
    const pngs = await codesToPngs(lease.bundle, grids);
    const images = pngs.map((img, i) => ({ ...img, codes: grids[i] }));
    const decode = performance.now() - started;
    const { prompt, ...rest } = params;
    const seed = params.seed!;
    const { id } = await storeBrowserGeneration(
      db,
      { prompt, params: { ...rest, seed }, seed, modelVersionId: model.id, clientId },
      { images, candidates: null },
      { decode },
    );
    return { ok: true, id, seed };
  } finally {
    lease.release();
  }
}
