// The image tokenizers' reconstruction sheets, kept out of the trainer so the trainer needs no image library.
import * as tf from "@tensorflow/tfjs";
import { batchTensor } from "../../lib/data/batches";
import type { Shard } from "../../lib/data/shard";
import type { VQModel } from "../../lib/model/vq-model";
import { imageGridPng, tensorToImages } from "../image-grid";

/** Val originals (top row) above their reconstructions (bottom row). */
export async function reconstructionSheet(model: VQModel, val: Shard, file: string): Promise<void> {
  await comparisonSheet([{ model }], val, file);
}

/**
 * Val originals (top row) above each model's reconstructions, a row per model, `count` images spread evenly over
 * the split (neighbours in file order are often one emoji in several styles).
 */
export async function comparisonSheet(models: { model: VQModel }[], val: Shard, file: string, count = 16): Promise<void> {
  const n = Math.min(count, val.count);
  const picks = Array.from({ length: n }, (_, i) => Math.floor((i * val.count) / n));
  const images = batchTensor(val, picks);
  try {
    const rows = await tensorToImages(images);
    for (const { model } of models) {
      const recon = model.reconstruct(images);
      rows.push(...(await tensorToImages(recon)));
      recon.dispose();
    }
    await imageGridPng(rows, val.height, n, file);
  } finally {
    images.dispose();
  }
}
