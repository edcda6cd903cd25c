// The retrain pipeline's "export" stage: the servable model folder (lib/generate/model-bundle.ts) from the run's
// stages — the transformer's last checkpoint (float16) with the text tokenizer beside it, the image tokenizer and
// the CLIP in the sub-folders the manifest names, the last sample sheet, the source model's lab (./lab-carry.ts) and
// what --denoise did to the training images.
import fs from "node:fs";
import path from "node:path";
import { CLIP_SUBDIR } from "../../lib/generate/model-bundle";
import { saveCheckpoint } from "../../lib/model/checkpoint";
import { Transformer } from "../../lib/model/transformer";
import type { DenoiseReport } from "./denoise";
import { carryLab, type LabSource } from "./lab-carry";
import { fileHash } from "./stage-kit";

export interface ExportOptions {
  modelDir: string;
  /** The transformer stage's run folder (its model/ checkpoint and sheet-*.png). */
  gptRun: string;
  textDir: string;
  vqDir: string;
  /** The CLIP stage's servable folder (./clip-stage.ts clipExportDir). */
  clipDir: string;
  /** lib/data/manifest.ts datasetHash of the run's dataset. */
  dataHash: string;
  lab: LabSource | undefined;
  denoise: DenoiseReport | undefined;
  log: (line: string) => void;
}

/** Sub-folder replaced by a copy of `from` (saveCheckpoint keeps whatever it finds beside the weights). */
function replaceWithCopy(from: string, modelDir: string, sub: string): void {
  fs.rmSync(path.join(modelDir, sub), { recursive: true, force: true });
  fs.cpSync(from, path.join(modelDir, sub), { recursive: true });
}

export async function exportModel(o: ExportOptions): Promise<{ hash: string; lab: string[] }> {
  const { modelDir, gptRun } = o;
  const { model, manifest: m } = Transformer.load(path.join(gptRun, "model"));
  try {
    await saveCheckpoint(modelDir, model.params.all(), {
      kind: "transformer",
      config: model.config,
      metrics: m.metrics,
      dataHash: o.dataHash,
      step: m.step,
      dtype: "float16",
      // Naming the CLIP makes a folder that lost it fail to load rather than serve unranked (clipDirOf).
      extra: { imageTokenizer: "image-tokenizer", clip: CLIP_SUBDIR },
    });
  } finally {
    model.dispose();
  }
  for (const f of fs.readdirSync(o.textDir)) fs.copyFileSync(path.join(o.textDir, f), path.join(modelDir, f));
  replaceWithCopy(o.vqDir, modelDir, "image-tokenizer");
  replaceWithCopy(o.clipDir, modelDir, CLIP_SUBDIR);
  const sheets = fs
    .readdirSync(gptRun)
    .filter((f) => /^sheet-\d+\.png$/.test(f))
    .sort();
  if (sheets.length) fs.copyFileSync(path.join(gptRun, sheets[sheets.length - 1]), path.join(modelDir, "samples.png"));
  o.log(carryLab(o.lab, modelDir));
  // What --denoise did to the training images, beside the model, for an admin looking at it later.
  for (const f of ["denoise.png", "denoise.json"]) fs.rmSync(path.join(modelDir, f), { force: true });
  if (o.denoise) {
    const { sheet, ...facts } = o.denoise;
    if (fs.existsSync(sheet)) fs.copyFileSync(sheet, path.join(modelDir, "denoise.png"));
    fs.writeFileSync(path.join(modelDir, "denoise.json"), JSON.stringify({ ...facts, sheet: "denoise.png" }, null, 2) + "\n");
  }
  return { hash: fileHash(path.join(modelDir, "manifest.json")), lab: o.lab?.kinds ?? [] };
}
