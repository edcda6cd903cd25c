// A real but tiny, untrained model folder, written by the same code as training's export: for tests of loading,
// generation and the job queue that must not depend on the shipped model.
import fs from "node:fs";
import path from "node:path";
import { trainTextTokenizer } from "../../training/train-text-tokenizer";
import { saveCheckpoint } from "../model/checkpoint";
import { Transformer } from "../model/transformer";
import { DEFAULT_TRANSFORMER_CONFIG } from "../model/transformer-config";
import { DEFAULT_VQ_CONFIG } from "../model/vq-config";
import { VQModel } from "../model/vq-model";

export async function writeTinyModelFolder(folder: string, codebookSize = 16, seed = 2): Promise<void> {
  const captions = ["grinning face, noto", "red heart, twemoji", "waving hand, openmoji", "red apple, fluent", "grinning cat, noto"];
  await trainTextTokenizer(captions, folder, { vocabSize: 64, minFrequency: 1 });
  const vocab = JSON.parse(fs.readFileSync(path.join(folder, "tokenizer.json"), "utf8")).model.vocab as Record<string, number>;
  const vq = new VQModel({ ...DEFAULT_VQ_CONFIG, encoderWidths: [8, 16], decoderWidths: [8, 16], outputWidth: 8, codebookSize, embedDim: 8 }, 1);
  await saveCheckpoint(path.join(folder, "image-tokenizer"), vq.params.all(), { kind: "vqvae", config: vq.config, dtype: "float16" });
  const gpt = new Transformer({ ...DEFAULT_TRANSFORMER_CONFIG, textVocab: Object.keys(vocab).length, textLen: 8, imageVocab: 16, imageGrid: 8, nLayer: 1, nHead: 2, nEmbd: 16, dropout: 0 }, seed);
  await saveCheckpoint(folder, gpt.params.all(), { kind: "transformer", config: gpt.config, dtype: "float16", extra: { imageTokenizer: "image-tokenizer" } });
  vq.dispose();
  gpt.dispose();
}
