// A servable model folder, loaded as one unit: the transformer (manifest.json + weights.bin), its text tokenizer
// (tokenizer.json beside them), its image tokenizer (the sub-folder the manifest names) and, when the folder has
// one, a CLIP that reranks candidates (the sub-folder `extra.clip` names, default "clip", with its own tokenizer
// files) and, when the folder has one, a Real-NVP in `lab/flow/` that scores every image's typicality
// (./typicality.ts), and, when it has a CLIP and an `exemplars/` bank, the training pictures whose vote the ranking
// mixes with CLIP's score (./exemplar-folder.ts). The folder is the only contract between training and serving.
import fs from "node:fs";
import path from "node:path";
import type { CheckpointManifest } from "../model/checkpoint";
import { Clip } from "../model/clip";
import { Transformer } from "../model/transformer";
import { VQModel } from "../model/vq-model";
import { loadTextTokenizer, type TextTokenizer } from "../text/tokenizer";
import { loadExemplars, type ExemplarPart } from "./exemplar-folder";
import { loadTypicality, type TypicalityPart } from "./typicality";

export interface ClipPart {
  model: Clip;
  /** CLIP's own copy of the tokenizer (training pins one; its textLen may differ from the transformer's). */
  text: TextTokenizer;
}

export interface ModelBundle {
  dir: string;
  manifest: CheckpointManifest;
  transformer: Transformer;
  imageTokenizer: VQModel;
  text: TextTokenizer;
  /** Absent when the folder carries no CLIP: then generation samples exactly n images, unranked. */
  clip?: ClipPart;
  /** Absent when the folder carries no flow: then images get no bits/dim. */
  typicality?: TypicalityPart;
  /** Absent when the folder carries no exemplar bank (or no CLIP): then CLIP's score alone ranks. */
  exemplars?: ExemplarPart;
  dispose(): void;
}

/** Where a model folder keeps its CLIP unless its manifest names another sub-folder (`extra.clip`). */
export const CLIP_SUBDIR = "clip";

/** The CLIP sub-folder of a model folder, or null when it has none (a manifest naming one that is missing is an error). */
export function clipDirOf(dir: string, manifest: CheckpointManifest): string | null {
  const named = manifest.extra.clip;
  const sub = path.join(dir, String(named ?? CLIP_SUBDIR));
  if (fs.existsSync(path.join(/*turbopackIgnore: true*/ sub, "manifest.json"))) return sub;
  if (named !== undefined) throw new Error(`${dir}: the manifest names a CLIP in ${String(named)}/, which holds no manifest.json`);
  return null;
}

/** Whether a model folder carries a CLIP, without loading anything (the API says if a request will be reranked). */
export function folderHasClip(dir: string): boolean {
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(/*turbopackIgnore: true*/ dir, "manifest.json"), "utf8")) as CheckpointManifest;
    return clipDirOf(dir, { ...manifest, extra: manifest.extra ?? {} }) !== null;
  } catch {
    return false;
  }
}

async function loadClip(dir: string, vq: VQModel): Promise<ClipPart> {
  const model = Clip.load(dir).model;
  try {
    const c = model.config;
    if (c.imageSize !== vq.config.imageSize || c.channels !== 3)
      throw new Error(
        `${dir}: the CLIP reads ${c.imageSize}×${c.imageSize}×${c.channels} images, the image tokenizer draws ${vq.config.imageSize}×${vq.config.imageSize}×3`,
      );
    const text = await loadTextTokenizer(dir);
    if (text.vocabSize !== c.textVocab)
      throw new Error(`${dir}: its tokenizer.json has ${text.vocabSize} tokens, the CLIP expects ${c.textVocab}`);
    return { model, text };
  } catch (err) {
    model.dispose();
    throw err;
  }
}

export async function loadModelBundle(dir: string): Promise<ModelBundle> {
  const { model: transformer, manifest } = Transformer.load(dir);
  let imageTokenizer: VQModel | undefined;
  let clip: ClipPart | undefined;
  let typicality: TypicalityPart | undefined;
  try {
    const sub = String(manifest.extra.imageTokenizer ?? "image-tokenizer");
    imageTokenizer = VQModel.load(path.join(dir, sub)).model;
    const c = transformer.config;
    if (imageTokenizer.config.codebookSize !== c.imageVocab || imageTokenizer.grid !== c.imageGrid) {
      throw new Error(
        `${dir}: the image tokenizer (${imageTokenizer.grid}×${imageTokenizer.grid}×${imageTokenizer.config.codebookSize}) does not match the transformer (${c.imageGrid}×${c.imageGrid}×${c.imageVocab})`,
      );
    }
    const text = await loadTextTokenizer(dir);
    if (text.vocabSize !== c.textVocab)
      throw new Error(`${dir}: tokenizer.json has ${text.vocabSize} tokens, the transformer expects ${c.textVocab}`);
    const clipDir = clipDirOf(dir, manifest);
    if (clipDir) clip = await loadClip(clipDir, imageTokenizer);
    const exemplars = clip ? await loadExemplars(dir, imageTokenizer.config.imageSize) : undefined;
    typicality = loadTypicality(dir, imageTokenizer.config.imageSize);
    const vq = imageTokenizer;
    const ranker = clip;
    const flow = typicality;
    return {
      dir,
      manifest,
      transformer,
      imageTokenizer: vq,
      text,
      clip: ranker,
      typicality: flow,
      exemplars,
      dispose() {
        transformer.dispose();
        vq.dispose();
        ranker?.model.dispose();
        flow?.model.dispose();
      },
    };
  } catch (err) {
    transformer.dispose();
    imageTokenizer?.dispose();
    clip?.model.dispose();
    typicality?.model.dispose();
    throw err;
  }
}
