// Writes a grid of uint8 HWC RGB images as one PNG, upscaled with nearest-neighbour so single pixels stay visible:
// reconstruction sheets (originals above reconstructions) and sample sheets.
import fs from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import sharp from "sharp";

export async function imageGridPng(images: Uint8Array[], size: number, cols: number, file: string, scale = 2, gap = 2): Promise<void> {
  if (!images.length) throw new Error("imageGridPng: no images");
  const rows = Math.ceil(images.length / cols);
  const cell = size * scale + gap;
  const tiles = await Promise.all(
    images.map(async (img, k) => ({
      input: await sharp(Buffer.from(img), { raw: { width: size, height: size, channels: 3 } })
        .resize(size * scale, size * scale, { kernel: "nearest" })
        .png()
        .toBuffer(),
      left: (k % cols) * cell + gap,
      top: Math.floor(k / cols) * cell + gap,
    })),
  );
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await sharp({ create: { width: cols * cell + gap, height: rows * cell + gap, channels: 3, background: "#ffffff" } })
    .composite(tiles)
    .png()
    .toFile(file);
}

/** [B, H, W, 3] float tensor in [0, 1] → B uint8 HWC images. */
export async function tensorToImages(batch: tf.Tensor4D): Promise<Uint8Array[]> {
  const [b, h, w, c] = batch.shape;
  const bytes = tf.tidy(() => tf.cast(tf.round(tf.mul(tf.clipByValue(batch, 0, 1), 255)), "int32"));
  const data = await bytes.data();
  bytes.dispose();
  const n = h * w * c;
  return Array.from({ length: b }, (_, i) => Uint8Array.from(data.subarray(i * n, (i + 1) * n)));
}
