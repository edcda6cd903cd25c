// The image tokenizer's reconstruction sheet, kept out of the trainer so the trainer needs no image library.
import * as tf from "@tensorflow/tfjs";
import { sequentialBatches } from "../../lib/data/batches";
import type { Shard } from "../../lib/data/shard";
import type { VQModel } from "../../lib/model/vq-model";
import { imageGridPng, tensorToImages } from "../image-grid";

/** Val originals (top row) above their reconstructions (bottom row). */
export async function reconstructionSheet(model: VQModel, val: Shard, file: string): Promise<void> {
  const [{ images }] = [...sequentialBatches({ ...val, count: Math.min(16, val.count) }, 16)];
  const recon = tf.tidy(() => model.decode(model.encode(images)));
  const rows = [...(await tensorToImages(images)), ...(await tensorToImages(recon))];
  tf.dispose([images, recon]);
  await imageGridPng(rows, val.height, Math.min(16, val.count), file);
}
