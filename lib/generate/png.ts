// PNG encoding of what the models draw: square uint8 RGB images back to back (HWC) → one PNG each, and the data URL
// form the event stream and the VAE tools send to the page.
import sharp from "sharp";

/** `count` size×size RGB images, back to back in `bytes`, as PNGs. */
export function rgbToPngs(bytes: Uint8Array, count: number, size: number): Promise<Buffer[]> {
  const n = size * size * 3;
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      sharp(Buffer.from(bytes.subarray(i * n, (i + 1) * n)), { raw: { width: size, height: size, channels: 3 } })
        .png()
        .toBuffer(),
    ),
  );
}

/** A PNG as a `data:` URL. */
export function pngDataUrl(png: Buffer): string {
  return `data:image/png;base64,${png.toString("base64")}`;
}
