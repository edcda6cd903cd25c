// The contact sheet's layout: a title row per section, a row per prompt, the real image then the samples.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { contactSheetPng, wrapCaption } from "./contact-sheet";

describe("contact sheet", () => {
  it("wraps long captions at spaces", () => {
    expect(wrapCaption("people wrestling: light skin tone, medium-dark skin tone, openmoji", 34)).toEqual([
      "people wrestling: light skin tone,",
      "medium-dark skin tone, openmoji",
    ]);
    expect(wrapCaption("short, noto", 34)).toEqual(["short, noto"]);
  });

  it("draws every row of every section, the real image before the samples", async () => {
    const size = 4;
    const solid = (v: number) => new Uint8Array(size * size * 3).fill(v);
    const row = (caption: string) => ({ caption, real: solid(0), samples: [solid(255), solid(128), solid(64)] });
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "tessera-sheet-")), "sheet.png");
    await contactSheetPng(
      [
        { title: "held-out", rows: [row("a <b>"), row("c")] },
        { title: "train", rows: [row("d")] },
      ],
      size,
      file,
    );
    const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
    // Cell 4·3 + 4 = 16 px; 300 px of text, real + 3 samples, 4 gaps of 4 px after the real image column.
    expect(info.width).toBe(300 + 16 * 4 + 16);
    // Per section: 4 px gap above + 44 px title and column labels + rows·16 + 8 px after.
    expect(info.height).toBe(4 + (44 + 2 * 16 + 8) + (44 + 16 + 8));
    const at = (x: number, y: number) => data[(y * info.width + x) * info.channels];
    const firstRowY = 4 + 44 + 2;
    expect(at(300 + 2, firstRowY)).toBe(0); // the real image
    expect(at(300 + 16 + 16 + 2, firstRowY)).toBe(255); // the first sample
  });
});
