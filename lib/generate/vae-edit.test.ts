// The pieces of the VAE tools that need no database: how a gallery PNG becomes the VAE's input (transparency on
// white, other sizes resized), and which pasted text names an image.
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { pngToPixels } from "./vae-edit";
import { imageRefFromInput } from "./vae-edit-params";

const png = (width: number, height: number, channels: 3 | 4, fill: number[]) =>
  sharp(Buffer.from(Array.from({ length: width * height }, () => fill).flat()), { raw: { width, height, channels } })
    .png()
    .toBuffer();

describe("pngToPixels", () => {
  it("reads a 32×32 RGB PNG as its pixels / 255", async () => {
    const pixels = await pngToPixels(await png(32, 32, 3, [255, 0, 51]), 32);
    expect(pixels.length).toBe(32 * 32 * 3);
    expect(Array.from(pixels.subarray(0, 3))).toEqual([1, 0, 51 / 255].map(Math.fround));
  });

  it("puts transparency on white and resizes another size to the VAE's", async () => {
    const pixels = await pngToPixels(await png(64, 48, 4, [0, 0, 0, 0]), 32);
    expect(pixels.length).toBe(32 * 32 * 3);
    expect(Math.min(...pixels)).toBe(1);
    const grey = await pngToPixels(await png(16, 16, 3, [128, 128, 128]), 32);
    expect(grey.length).toBe(32 * 32 * 3);
    expect(Math.abs(grey[100] - 128 / 255)).toBeLessThan(2 / 255);
  });
});

describe("imageRefFromInput", () => {
  it("takes a bare id or a link to an image or a generation, and nothing else", () => {
    expect(imageRefFromInput("  cmabc123 ")).toBe("cmabc123");
    expect(imageRefFromInput("/api/images/cmabc123")).toBe("cmabc123");
    expect(imageRefFromInput("https://tessera.example/gallery/cmgen9?x=1")).toBe("cmgen9");
    expect(imageRefFromInput("http://localhost:3000/api/images/cmabc123/")).toBe("cmabc123");
    for (const bad of ["", "two words", "/models/abc", "https://x/api/images/", "a/b/c"]) expect(imageRefFromInput(bad)).toBeNull();
  });
});
