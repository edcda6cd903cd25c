// The model versions requests may choose (`model` on POST /api/generations and /api/tokenize, the Create page's
// picker): those of kind "dalle". A request names one by id or name, or none for the active one; the sampling
// defaults, rerank offer and example prompts of the chosen one are what fill in what the request leaves out.
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import type { Db } from "../db/client";
import { findActiveModelVersion, findModelVersionByIdOrName, findModelVersionPath, listServableModelVersions } from "../db/versions";
import { rerankOfferFor } from "./candidates";
import { PromptText, type RerankOffer, type SamplingDefaults } from "./params";
import { samplingDefaultsFor } from "./sampling-defaults";

/** The kind of version that turns a prompt into images (the others are image tokenizers). */
export const SERVABLE_KIND = "dalle";

/** Example prompts a Create page shows for one model, at most. */
export const EXAMPLES_MAX = 8;

/** What the Create page needs of one servable model, to switch its form client-side. */
export interface ServableModel {
  id: string;
  name: string;
  active: boolean;
  sampling: SamplingDefaults;
  rerank: RerankOffer;
  /** Its manifest's `extra.examples` (valid prompts only), or null when it has none. */
  examples: string[] | null;
  /** Rows (and columns) of codes of its images: an image-primed request keeps 1 to imageGrid − 1 rows. */
  imageGrid: number;
}

export interface ChosenModel {
  id: string;
  name: string;
  path: string;
  active: boolean;
}

export type ModelChoice = { ok: true; model: ChosenModel } | { ok: false; status: 400 | 503; message: string };

/**
 * The version a request asks for by id or name, or the active one when it names none. Unknown, or of a kind that
 * does not generate: 400 with the servable names; nothing active: 503.
 */
export async function chooseModel(db: Db, key: string | undefined): Promise<ModelChoice> {
  if (key === undefined) {
    const active = await findActiveModelVersion(db);
    if (!active) return { ok: false, status: 503, message: "no model is active yet: train one and activate it" };
    return { ok: true, model: pick(active) };
  }
  const version = await findModelVersionByIdOrName(db, key);
  if (version?.kind === SERVABLE_KIND) return { ok: true, model: pick(version) };
  const names = (await listServableModelVersions(db)).map((v) => v.name);
  const known = names.length ? `the models are ${names.join(", ")}` : "no model is registered yet";
  const what = version
    ? `model ${JSON.stringify(key)} does not generate images (it is a ${version.kind})`
    : `unknown model ${JSON.stringify(key)}`;
  return { ok: false, status: 400, message: `${what}: give a model's id or name (${known}), or leave model out for the active one` };
}

const pick = (v: ChosenModel): ChosenModel => ({ id: v.id, name: v.name, path: v.path, active: v.active });

/** Every servable version whose folder is there (active first, then newest), with what the Create form needs. */
export async function listServableModels(db: Db): Promise<ServableModel[]> {
  const versions = await listServableModelVersions(db);
  return versions
    .filter((v) => fs.existsSync(path.join(path.resolve(/*turbopackIgnore: true*/ v.path), "manifest.json")))
    .map((v) => ({
      id: v.id,
      name: v.name,
      active: v.active,
      sampling: samplingDefaultsFor(v.path),
      rerank: rerankOfferFor(v.path),
      examples: examplesFor(v.path),
      imageGrid: gridOf(v.path),
    }));
}

/**
 * The grid of codes of a version's images (the active version's for null: what completes images whose version was
 * deleted); null when there is no such folder to read.
 */
export async function imageGridOfVersion(db: Db, versionId: string | null): Promise<number | null> {
  const folder = versionId ? await findModelVersionPath(db, versionId) : await findActiveModelVersion(db);
  try {
    return folder ? imageShapeOf(folder.path).grid : null;
  } catch {
    return null;
  }
}

/** The grid of a folder's images, or the shipped models' 8 when its manifests cannot say (the registry reports why). */
function gridOf(dir: string): number {
  try {
    return imageShapeOf(dir).grid;
  } catch {
    return 8;
  }
}

/** What a model folder draws: its pictures' side in pixels and its grid of codes (grid × grid), from its manifests. */
export function imageShapeOf(dir: string): { imageSize: number; grid: number } {
  const read = (d: string) =>
    JSON.parse(fs.readFileSync(path.join(/*turbopackIgnore: true*/ d, "manifest.json"), "utf8")) as {
      config?: { imageGrid?: unknown; imageSize?: unknown };
      extra?: { imageTokenizer?: unknown };
    };
  const gpt = read(dir);
  const vq = read(path.join(dir, String(gpt.extra?.imageTokenizer ?? "image-tokenizer")));
  const grid = Number(gpt.config?.imageGrid);
  const imageSize = Number(vq.config?.imageSize);
  if (!(grid > 1) || !(imageSize > 0)) throw new Error(`${dir}: its manifests give no image grid or image size`);
  return { imageSize, grid };
}

const Examples = z.array(z.unknown());
const cache = new Map<string, { mtimeMs: number; value: string[] | null }>();

/** The example prompts in `<dir>/manifest.json` (`extra.examples`, valid prompts, at most EXAMPLES_MAX), else null. */
export function examplesFor(dir: string): string[] | null {
  const file = path.join(path.resolve(/*turbopackIgnore: true*/ dir), "manifest.json");
  let mtimeMs: number;
  try {
    mtimeMs = fs.statSync(file).mtimeMs;
  } catch {
    return null;
  }
  const hit = cache.get(file);
  if (hit?.mtimeMs === mtimeMs) return hit.value;
  let value: string[] | null = null;
  try {
    const raw = (JSON.parse(fs.readFileSync(file, "utf8")) as { extra?: { examples?: unknown } }).extra?.examples;
    const listed = Examples.safeParse(raw);
    if (listed.success) {
      const prompts = listed.data.flatMap((e) => {
        const p = PromptText.safeParse(e);
        return p.success ? [p.data] : [];
      });
      const unique = [...new Set(prompts)].slice(0, EXAMPLES_MAX);
      value = unique.length ? unique : null;
    }
  } catch {
    // An unreadable manifest is the registry's to report; the page falls back to its own examples.
  }
  cache.set(file, { mtimeMs, value });
  return value;
}
