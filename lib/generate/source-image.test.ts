// Uploads as the model's source picture: every bad kind refused with its status and a message that says what is
// accepted (415 wrong type, 413 too large, 400 undecodable or a decompression bomb), good ones flattened on white
// and fitted whole into the model's square.
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { bombPng } from "../../test/fixtures/bomb-png";
import { HttpError } from "../api";
import { fit, sniffFormat, sourceFromUpload, sourcePixels, UPLOAD_MAX_BYTES } from "./source-image";

const red = (w: number, h: number, alpha = 1) =>
  sharp({ create: { width: w, height: h, channels: 4, background: { r: 255, g: 0, b: 0, alpha } } });

async function refusal(p: Promise<unknown>): Promise<HttpError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HttpError);
  return err as HttpError;
}

describe("sourceFromUpload", () => {
  it("takes PNG, JPEG and WebP by their bytes and makes a size×size RGB PNG", async () => {
    for (const img of [red(40, 40).png(), red(40, 40).jpeg(), red(40, 40).webp()]) {
      const out = await sourceFromUpload(await img.toBuffer(), 32, "application/octet-stream");
      const meta = await sharp(out).metadata();
      expect({ format: meta.format, width: meta.width, height: meta.height, channels: meta.channels }).toEqual({
        format: "png",
        width: 32,
        height: 32,
        channels: 3,
      });
    }
  });

  it("composites transparency on white and fits a wide picture whole, letterboxed in white", async () => {
    const clear = await sourceFromUpload(await red(32, 32, 0).png().toBuffer(), 32);
    expect(Math.min(...(await sharp(clear).raw().toBuffer()))).toBe(255);
    // 64×32 red → 32×16 red band in the middle, white above and below.
    const wide = await sharp(await sourceFromUpload(await red(64, 32).png().toBuffer(), 32))
      .raw()
      .toBuffer();
    const px = (x: number, y: number) => [...wide.subarray((y * 32 + x) * 3, (y * 32 + x) * 3 + 3)];
    expect(px(16, 2)).toEqual([255, 255, 255]);
    expect(px(16, 16)).toEqual([255, 0, 0]);
    expect(px(16, 29)).toEqual([255, 255, 255]);
  });

  it("415 for a picture in another format (GIF, SVG, text), named, or declared as another image type", async () => {
    const gif = await red(8, 8).gif().toBuffer();
    const e1 = await refusal(sourceFromUpload(gif, 32, "image/gif"));
    expect([e1.status, e1.message]).toEqual([415, "the image is a GIF; send a PNG, JPEG or WebP image"]);
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"/>');
    expect((await refusal(sourceFromUpload(svg, 32))).message).toMatch(/an SVG/);
    expect((await refusal(sourceFromUpload(Buffer.from("hello"), 32))).status).toBe(415);
    const png = await red(8, 8).png().toBuffer();
    expect((await refusal(sourceFromUpload(png, 32, "image/gif"))).status).toBe(415);
  });

  it("413 over 1 MB, counted before anything is decoded", async () => {
    const big = Buffer.concat([await red(8, 8).png().toBuffer(), Buffer.alloc(UPLOAD_MAX_BYTES)]);
    const e = await refusal(sourceFromUpload(big, 32));
    expect(e.status).toBe(413);
    expect(e.message).toMatch(/larger than 1 MB/);
  });

  it("400 for a file that does not decode: truncated, corrupt, empty", async () => {
    const png = await red(64, 64).png().toBuffer();
    for (const bad of [png.subarray(0, png.length - 40), Buffer.concat([png.subarray(0, 40), Buffer.alloc(200, 7)]), Buffer.alloc(0)]) {
      const e = await refusal(sourceFromUpload(bad, 32));
      expect(e.status).toBe(400);
    }
    const jpeg = await red(64, 64).jpeg().toBuffer();
    expect((await refusal(sourceFromUpload(jpeg.subarray(0, 200), 32))).status).toBe(400);
  });

  it("400 for a decompression bomb, from its header: a few KB declaring 100,000 × 100,000 pixels", async () => {
    const bomb = bombPng(100_000, 100_000);
    expect(bomb.length).toBeLessThan(UPLOAD_MAX_BYTES);
    expect(sniffFormat(bomb)).toBe("png");
    const e = await refusal(sourceFromUpload(bomb, 32));
    expect(e.status).toBe(400);
    expect(e.message).toMatch(/100000×100000 pixels.*decompression bomb/);
  });
});

describe("sourcePixels", () => {
  it("reads a stored source as is, and fits anything else first", async () => {
    const png = await fit(await red(32, 32).png().toBuffer(), 32);
    const pixels = await sourcePixels(png, 32);
    expect(pixels.length).toBe(32 * 32 * 3);
    expect([pixels[0], pixels[1], pixels[2]]).toEqual([1, 0, 0]);
    expect((await sourcePixels(await red(64, 64).png().toBuffer(), 32)).length).toBe(32 * 32 * 3);
  });
});
