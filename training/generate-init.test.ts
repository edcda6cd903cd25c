// `npm run generate -- "prompt" --init IMAGE --keep-rows K` against a real (tiny, untrained) model folder: the very
// images the library (and so the server) gives for that source and seed, and the errors a user sees.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateImages } from "../lib/generate/generate";
import { loadModelBundle } from "../lib/generate/model-bundle";
import { sourceFromUpload } from "../lib/generate/source-image";
import { initBackend } from "../lib/tensor/backend";
import { writeTinyModelFolder } from "../test/fixtures/tiny-model";
import { generateMain, type GenerateSummary } from "./generate";

let dir: string;
let model: string;
let picture: string;

beforeAll(async () => {
  await initBackend({ request: "wasm", log: { info() {}, warn() {} } });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-generate-init-"));
  model = path.join(dir, "model");
  await writeTinyModelFolder(model);
  picture = path.join(dir, "picture.jpg");
  const half = { create: { width: 20, height: 40, channels: 3 as const, background: { r: 240, g: 40, b: 40 } } };
  await sharp({ create: { width: 40, height: 40, channels: 3, background: { r: 30, g: 90, b: 200 } } })
    .composite([{ input: half, left: 0, top: 0 }])
    .jpeg()
    .toFile(picture);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

let outs = 0;
async function run(...argv: string[]): Promise<GenerateSummary> {
  const err = { isTTY: false, write: () => true } as unknown as NodeJS.WriteStream;
  return generateMain([...argv, "--model", model, "--out", path.join(dir, `out-${outs++}`)], {
    stdout: { write: () => true },
    stderr: err,
  });
}
const bytes = (files: string[]) => files.map((f) => fs.readFileSync(f).toString("base64"));

describe("npm run generate --init --keep-rows", () => {
  it("writes the images the library gives for that picture, kept rows and seed, and says so in the summary", async () => {
    const summary = await run("red heart", "--n", "2", "--seed", "7", "--init", picture, "--keep-rows", "3");
    expect(summary.init).toEqual({ file: picture, keepRows: 3 });
    const bundle = await loadModelBundle(model);
    try {
      const source = await sourceFromUpload(fs.readFileSync(picture), bundle.imageTokenizer.config.imageSize);
      const s = summary.settings;
      const want = await generateImages(bundle, {
        prompt: "red heart",
        n: 2,
        guidance: s.guidance,
        temperature: s.temperature,
        topK: s.topK || undefined,
        seed: 7,
        init: { source, keepRows: 3 },
      });
      expect(bytes(summary.files.images)).toEqual(want.images.map((i) => i.png.toString("base64")));
    } finally {
      bundle.dispose();
    }
    const unprimed = await run("red heart", "--n", "2", "--seed", "7");
    expect(unprimed.init).toBeNull();
  });

  it("refuses what the API refuses, naming the flag", async () => {
    await expect(run("red heart", "--keep-rows", "3")).rejects.toThrow(/^--init: keepRows needs init/);
    await expect(run("red heart", "--init", picture)).rejects.toThrow(/^--keep-rows: keepRows is required with init/);
    await expect(run("red heart", "--init", picture, "--keep-rows", "8")).rejects.toThrow(/^--keep-rows: must be 1–7/);
    await expect(run("red heart", "--init", path.join(dir, "nope.png"), "--keep-rows", "2")).rejects.toThrow(
      /^--init: cannot read .*nope\.png \(ENOENT\)/,
    );
    const gif = path.join(dir, "picture.gif");
    await sharp(picture).gif().toFile(gif);
    await expect(run("red heart", "--init", gif, "--keep-rows", "2")).rejects.toThrow(
      /^--init: the image is a GIF; send a PNG, JPEG or WebP image/,
    );
  });
});
