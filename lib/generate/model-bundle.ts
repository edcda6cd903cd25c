// A servable model folder, loaded as one unit: the transformer (manifest.json + weights.bin), its text tokenizer
// (tokenizer.json beside them) and its image tokenizer (the sub-folder the manifest names). The folder is the only
// contract between training and serving.
import path from "node:path";
import type { CheckpointManifest } from "../model/checkpoint";
import { Transformer } from "../model/transformer";
import { VQModel } from "../model/vq-model";
import { loadTextTokenizer, type TextTokenizer } from "../text/tokenizer";

export interface ModelBundle {
  dir: string;
  manifest: CheckpointManifest;
  transformer: Transformer;
  imageTokenizer: VQModel;
  text: TextTokenizer;
  dispose(): void;
}

export async function loadModelBundle(dir: string): Promise<ModelBundle> {
  const { model: transformer, manifest } = Transformer.load(dir);
  let imageTokenizer: VQModel | undefined;
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
    const vq = imageTokenizer;
    return {
      dir,
      manifest,
      transformer,
      imageTokenizer: vq,
      text,
      dispose() {
        transformer.dispose();
        vq.dispose();
      },
    };
  } catch (err) {
    transformer.dispose();
    imageTokenizer?.dispose();
    throw err;
  }
}
