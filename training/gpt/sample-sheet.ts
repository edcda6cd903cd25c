// Sample sheets: one generated image per fixed prompt, decoded with the image tokenizer, written at every
// transformer checkpoint so progress can be seen, not only read off a loss curve.
import fs from "node:fs";
import * as tf from "@tensorflow/tfjs";
import { sampleImageCodes } from "../../lib/model/sample";
import type { Transformer } from "../../lib/model/transformer";
import type { VQModel } from "../../lib/model/vq-model";
import type { TextTokenizer } from "../../lib/text/tokenizer";
import { SAMPLING_FALLBACK } from "../../lib/generate/params";
import { imageGridPng, tensorToImages } from "../image-grid";

/** Fixed prompts for the sample sheets: the first distinct val captions. */
export function sheetPrompts(captions: string[], count = 8): string[] {
  return [...new Set(captions)].slice(0, count);
}

export async function writeSampleSheet(gpt: Transformer, vq: VQModel, tok: TextTokenizer, prompts: string[], file: string): Promise<void> {
  const nul = tok.encodeNull(gpt.config.textLen);
  const images: Uint8Array[] = [];
  for (const [i, prompt] of prompts.entries()) {
    const [codes] = await sampleImageCodes(gpt, tok.encode(prompt, gpt.config.textLen).ids, nul, {
      n: 1,
      ...SAMPLING_FALLBACK,
      seed: i,
    });
    const pixels = vq.decodeCodes([codes]);
    images.push(...(await tensorToImages(pixels)));
    pixels.dispose();
  }
  await imageGridPng(images, vq.config.imageSize, prompts.length, file, 2);
  fs.writeFileSync(file.replace(/\.png$/, ".txt"), prompts.join("\n") + "\n");
}
