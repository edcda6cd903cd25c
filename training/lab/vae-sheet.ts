// The VAE's picture of progress (and the exported model's sample sheet), kept out of the model code: a row of val
// originals, their reconstructions decode(μ), variations of the first (q(z|x) samples, scale 1), prior samples
// z ~ N(0, I), and a blend strip between two val images.
import * as tf from "@tensorflow/tfjs";
import { batchTensor } from "../../lib/data/batches";
import type { Shard } from "../../lib/data/shard";
import type { VAE } from "../../lib/model/vae";
import { imageGridPng, tensorToImages } from "../image-grid";

export async function vaeSheet(model: VAE, val: Shard, file: string, cols = 12): Promise<void> {
  const n = Math.min(cols, val.count);
  // Spread over the split: neighbours in file order are often one emoji in several styles.
  const picks = Array.from({ length: n }, (_, i) => Math.floor((i * val.count) / n));
  const originals = batchTensor(val, picks); // [n, S, S, C]
  const rows: tf.Tensor4D[] = [];
  try {
    const first = tf.slice(originals, [0], [1]) as tf.Tensor4D;
    const other = tf.slice(originals, [Math.floor(n / 2)], [1]) as tf.Tensor4D;
    rows.push(first, other);
    const parts = [
      originals,
      model.reconstruct(originals),
      model.variations(first, n, 1, 1),
      model.sample(n, 1),
      model.blend(first, other, n),
    ];
    rows.push(...parts.slice(1));
    const images: Uint8Array[] = [];
    for (const p of parts) images.push(...(await tensorToImages(p)));
    await imageGridPng(images, val.height, n, file);
  } finally {
    tf.dispose([originals, ...rows]);
  }
}
