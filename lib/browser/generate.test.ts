// The page's chain (./generate.ts: its tokenizer, the served graphs, the shared sampling loop) against the server's
// sampler on the shipped models, run here by onnxruntime-node: a seed gives the page the server's codes, and the
// page's decoder draws the server's pixels. The browser itself is held to the same in e2e/browser-run.spec.ts.
import * as ortNode from "onnxruntime-node";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codesToPngs } from "../generate/batch";
import { browserFilesFor } from "../generate/browser-files";
import { loadModelBundle, type ModelBundle } from "../generate/model-bundle";
import { samplingDefaultsFor } from "../generate/sampling-defaults";
import { sampleImageCodesBatch } from "../model/sample";
import { selectBackend } from "../tensor/backend";
import { decodeInPage, openPageModel, sampleInPage, type FileBytes, type PageModel } from "./generate";
import type { BrowserManifest } from "./manifest";

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
});

async function pageFor(bundle: ModelBundle): Promise<PageModel> {
  const built = browserFilesFor(bundle, samplingDefaultsFor(bundle.dir));
  const manifest: BrowserManifest = { ...built.manifest, model: { id: "m", name: "m" }, files: [] };
  const bytes = Object.fromEntries(built.manifest.files.map((f) => [f.role, built.files.get(f.name)?.bytes])) as FileBytes;
  return openPageModel(ortNode, manifest, bytes);
}

describe.each(["models/shapes", "models/default"])("the page's generation on %s", (dir) => {
  let bundle: ModelBundle;
  let page: PageModel;
  beforeAll(async () => {
    bundle = await loadModelBundle(dir);
    page = await pageFor(bundle);
  });
  afterAll(async () => {
    await page?.engine.release();
    await page?.decoder.release();
    bundle?.dispose();
  });

  it.each([
    { prompt: "a red circle", n: 3, guidance: 1.5, temperature: 0.7, topK: 0, seed: 11 },
    { prompt: "blue square", n: 2, guidance: 1, temperature: 1, topK: 64, seed: 2024 },
  ])("samples the server's codes for a seed ($prompt, seed $seed)", async (s) => {
    const got = await sampleInPage(page, s);
    const c = bundle.transformer.config;
    const want = await sampleImageCodesBatch(
      bundle.transformer,
      [bundle.text.encode(s.prompt, c.textLen).ids],
      bundle.text.encodeNull(c.textLen),
      {
        ...s,
        topK: s.topK || undefined,
        engine: "onnx",
      },
    );
    expect(got.map((g) => [...g])).toEqual(want.map((g) => [...g]));
  });

  it("decodes to the server's pixels (±1 of 255 for rounding)", async () => {
    const codes = await sampleInPage(page, { prompt: "green triangle", n: 2, guidance: 1.5, temperature: 0.7, topK: 0, seed: 5 });
    codes[1].fill(-1, 40); // a partial grid, as streamed
    const rgba = await decodeInPage(page, codes);
    const pngs = await codesToPngs(bundle, codes);
    for (const [i, png] of pngs.entries()) {
      const raw = await sharp(png.png).removeAlpha().raw().toBuffer();
      let worst = 0;
      for (let p = 0; p < raw.length / 3; p++)
        for (let ch = 0; ch < 3; ch++) worst = Math.max(worst, Math.abs(raw[p * 3 + ch] - rgba[i][p * 4 + ch]));
      expect(worst).toBeLessThanOrEqual(1);
    }
  });
});
