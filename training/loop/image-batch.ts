// The batch of an image task (the VQ-VAE, the lab's VAE and flow): `plan` copies the rows' raw uint8 pixels out of
// the shard (plain data, so a replica thread can take it), and `pixelsOf` turns them back into a tensor.
import * as tf from "@tensorflow/tfjs";
import { imageBytes, type Shard } from "../../lib/data/shard";
import type { Batch } from "./task";

/** The plan of a batch of shard items: their pixels, back to back. */
export function planImages(shard: Pick<Shard, "data" | "height" | "width" | "channels">, items: Int32Array): Batch {
  const bytes = imageBytes(shard);
  const images = new Uint8Array(items.length * bytes);
  items.forEach((item, b) => images.set(shard.data.subarray(item * bytes, (item + 1) * bytes), b * bytes));
  return { rows: items.length, arrays: { images } };
}

/** A planned batch's pixels as int32 0..255, [B, H, W, C] (divide by 255 for [0, 1]). */
export function pixelsOf(batch: Batch, shard: Pick<Shard, "height" | "width" | "channels">): tf.Tensor4D {
  return tf.tensor4d(batch.arrays.images as Uint8Array, [batch.rows, shard.height, shard.width, shard.channels], "int32"); // [B, H, W, C]
}
