// The admin's retraining pipeline: data → image tokenizer (or reuse) → text tokenizer → image codes → transformer →
// CLIP → export → exemplars → evaluate → register (→ activate). Each stage records a hash of its inputs in
// state.json (./stages.ts): a stage whose inputs did not change is skipped, and the training stages resume from
// their last checkpoint after an interrupt. The CLIP stage (./clip-stage.ts; the default preset gives it 20 minutes)
// trains the reranker the server scores candidates with, and the exemplars stage (./exemplars-stage.ts; seconds)
// writes the training pictures whose vote the ranking mixes in: without them a retrained model would serve its
// samples unranked. With --denoise the data stage also runs the lab's DAE over the built dataset (./denoise.ts);
// the export stage (./export-stage.ts) assembles the model folder and carries the source model's lab/ into it
// (./lab-carry.ts).
import fs from "node:fs";
import path from "node:path";
import { captionsFor, datasetHash, loadSplit, readCaptions, readManifest } from "../../lib/data/manifest";
import type { Db } from "../../lib/db/client";
import { activateModelVersion, findActiveModelVersion, upsertModelVersion } from "../../lib/db/versions";
import { DAE } from "../../lib/model/dae";
import { Transformer } from "../../lib/model/transformer";
import { DEFAULT_TRANSFORMER_CONFIG, type TransformerConfig } from "../../lib/model/transformer-config";
import { VQModel } from "../../lib/model/vq-model";
import { loadTextTokenizer, tokeniseCaptions } from "../../lib/text/tokenizer";
import { buildCustom } from "../data/build-custom";
import { buildEmoji } from "../data/build-emoji";
import { DEFAULT_EMOJI_SPLIT } from "../data/emoji-splits";
import { cachedCodes, encodeShard } from "../gpt/codes";
import { sheetPrompts } from "../gpt/sample-sheet";
import {
  createTask as createGptTask,
  GPT_TRAINER_DEFAULTS,
  gptTaskDefinition,
  validationLoss,
  type GptData,
  type GptTaskOptions,
} from "../gpt/task";
import { shared } from "../loop/task";
import { trainTextTokenizer } from "../train-text-tokenizer";
import { evaluateTokenizer } from "../vq/evaluate";
import { clipExportDir, trainClipStage } from "./clip-stage";
import { checkDenoiser, denoiseDataset, denoiserDir, type DenoiseReport } from "./denoise";
import { exemplarsStage, retrainExemplarMix } from "./exemplars-stage";
import { exportModel } from "./export-stage";
import { findLabSource } from "./lab-carry";
import { PRESETS, type Preset } from "./presets";
import { captionLength, fileHash, folderHash, runTrainingStage, sha } from "./stage-kit";
import { stageRunner } from "./stages";
import { trainImageTokenizer } from "./vq-stage";

export interface RetrainOptions {
  name: string;
  /** Folder of the admin's own images + captions; undefined = the emoji corpus from npm packages. */
  data?: string;
  preset: Preset;
  minutesVq?: number;
  minutesGpt?: number;
  minutesClip?: number;
  reuseTokenizer: boolean;
  activate: boolean;
  runsDir: string;
  modelsDir: string;
  db: Db;
  /** Run the lab's denoising autoencoder over the built dataset (needs `data`). */
  denoise?: boolean;
  /** The DAE checkpoint folder; default: the active version's lab/dae, else `<defaultModelDir>/lab/dae`. */
  denoiser?: string;
  /** The shipped model folder (default models/default): where the lab and the denoiser come from when the active
   * version has none. */
  defaultModelDir?: string;
  /** Data-parallel replicas for the training stages (default: one per core). */
  workers?: number | "auto";
  log: (line: string) => void;
}

export async function retrain(
  o: RetrainOptions,
): Promise<{ versionId: string; modelDir: string; metrics: Record<string, number>; skipped: string[] }> {
  const p = PRESETS[o.preset];
  if (o.denoise && !o.data)
    throw new Error(
      "--denoise needs --data FOLDER: it cleans up noisy uploads, and the emoji corpus (rendered from vector art) has no noise to remove",
    );
  if (o.denoiser && !o.denoise) throw new Error("--denoiser DIR is only used with --denoise; add --denoise");
  // Checked before any stage runs, so a missing or mismatched denoiser fails in a second, not after the build.
  const denoiser = o.denoise ? checkDenoiser(await denoiserDir(o.db, o.denoiser, o.defaultModelDir), p.size) : undefined;
  const run = path.join(o.runsDir, o.name);
  fs.mkdirSync(run, { recursive: true });
  const { stage, hashOf, skipped } = stageRunner(run, o.log);

  const dataDir = path.join(run, "dataset");
  const sheetFile = path.join(run, "denoise.png");
  // The denoiser's manifest hash is an input only when denoising, so the hash of a plain run is what it always was.
  const dataInputs = { src: o.data ? folderHash(o.data) : "emoji", size: p.size, ...(denoiser && { denoise: denoiser.hash }) };
  const data = await stage("data", dataInputs, async () => {
    fs.rmSync(sheetFile, { force: true });
    if (o.data) await buildCustom({ srcDir: o.data, outDir: dataDir, size: p.size, seed: 1234, log: o.log });
    else await buildEmoji({ outDir: dataDir, sizes: [p.size], split: DEFAULT_EMOJI_SPLIT, concurrency: 8, log: o.log });
    let denoise: DenoiseReport | undefined;
    if (denoiser) {
      const { model } = DAE.load(denoiser.dir);
      try {
        denoise = await denoiseDataset(dataDir, model, denoiser, sheetFile, o.log);
      } finally {
        model.dispose();
      }
    }
    return { hash: sha(readManifest(dataDir).shards.map((s) => s.sha256)), ...(denoise && { denoise }) };
  });
  // `data.hash` (a hash of the shards' checksums) keys the later stages in state.json, as it always has: redefining
  // it would retrain every stage of every existing run. The checkpoints record the project's data hash instead, as
  // train:vq, train:gpt, train:clip and npm run exemplars do, so a model's dataHash says which dataset it learned.
  const dataHash = datasetHash(dataDir);
  const manifest = readManifest(dataDir);
  const train = loadSplit(dataDir, "train", p.size, manifest);
  const val = loadSplit(dataDir, "val", p.size, manifest);

  const vqOut = path.join(run, "image-tokenizer");
  const vq = await stage(
    "image-tokenizer",
    { data: data.hash, reuse: o.reuseTokenizer, preset: o.preset, minutes: o.minutesVq },
    async () => {
      if (o.reuseTokenizer) {
        const active = await findActiveModelVersion(o.db);
        if (!active) throw new Error("--reuse-tokenizer: no active model version to take the image tokenizer from");
        fs.rmSync(vqOut, { recursive: true, force: true });
        fs.cpSync(path.join(active.path, "image-tokenizer"), vqOut, { recursive: true });
      } else {
        await trainImageTokenizer({
          run,
          out: vqOut,
          train,
          val,
          dataHash,
          preset: o.preset,
          minutes: o.minutesVq,
          workers: o.workers,
          identity: { data: data.hash, preset: o.preset },
          log: o.log,
        });
      }
      return { hash: fileHash(path.join(vqOut, "manifest.json")) };
    },
  );

  const textDir = path.join(run, "text-tokenizer");
  const captions = readCaptions(dataDir);
  const text = await stage("text-tokenizer", { data: data.hash }, async () => {
    await trainTextTokenizer(
      captionsFor(captions, "train").map((c) => c.caption),
      textDir,
    );
    return { hash: fileHash(path.join(textDir, "tokenizer.json")) };
  });

  const { model: imageTokenizer } = VQModel.load(vqOut);
  const tok = await loadTextTokenizer(textDir);
  try {
    const codesDir = path.join(run, "codes");
    await stage("codes", { data: data.hash, vq: vq.hash }, async () => {
      fs.rmSync(codesDir, { recursive: true, force: true });
      for (const [split, shard] of [
        ["train", train],
        ["val", val],
      ] as const)
        cachedCodes(codesDir, vq.hash, split, () => encodeShard(imageTokenizer, shard, split));
      return {};
    });
    const textLen = captionLength(textDir);
    const config: TransformerConfig = {
      ...DEFAULT_TRANSFORMER_CONFIG,
      ...p.gpt.config,
      textVocab: tok.vocabSize,
      textLen,
      padId: tok.padId,
      imageVocab: imageTokenizer.config.codebookSize,
      imageGrid: imageTokenizer.grid,
    };
    const gptData = (split: "train" | "val", shard: typeof train): GptData => {
      const { ids } = tokeniseCaptions(
        tok,
        captionsFor(captions, split).map((c) => c.caption),
        textLen,
      );
      return {
        count: shard.count,
        text: shared(ids),
        codes: shared(cachedCodes(path.join(run, "codes"), vq.hash, split, () => encodeShard(imageTokenizer, shard, split))),
      };
    };
    const gptRun = path.join(run, "gpt");
    const prompts = sheetPrompts(captionsFor(captions, "val").map((c) => c.caption));
    await stage("transformer", { data: data.hash, vq: vq.hash, text: text.hash, preset: o.preset, minutes: o.minutesGpt }, async () => {
      const options: GptTaskOptions = {
        config,
        seed: 1,
        captionDropout: 0.1,
        train: gptData("train", train),
        val: gptData("val", val),
        nullText: tok.encodeNull(textLen),
        sheet: { imageTokenizer: vqOut, textTokenizer: textDir, prompts },
      };
      const spec = {
        dir: gptRun,
        defaults: GPT_TRAINER_DEFAULTS,
        budget: p.gpt,
        options,
        createTask: createGptTask,
        definition: gptTaskDefinition,
      };
      const identity = { data: data.hash, vq: vq.hash, text: text.hash, preset: o.preset };
      return runTrainingStage(spec, { identity, minutes: o.minutesGpt, workers: o.workers, dataHash, log: o.log }, async (_, r) => ({
        step: r.step,
      }));
    });

    // The CLIP reads neither the image tokenizer nor the transformer: a new transformer leaves it as it is.
    const clipInputs = { data: data.hash, text: text.hash, preset: o.preset };
    const clip = await stage("clip", { ...clipInputs, minutes: o.minutesClip }, () =>
      trainClipStage({
        run,
        dataDir,
        dataHash,
        textDir,
        textLen,
        preset: o.preset,
        minutes: o.minutesClip,
        workers: o.workers,
        identity: clipInputs,
        log: o.log,
      }),
    );

    const modelDir = path.join(o.modelsDir, o.name);
    const lab = await findLabSource(o.db, o.defaultModelDir);
    const exportInputs = {
      vq: vq.hash,
      text: text.hash,
      gpt: hashOf("transformer"),
      clip: clip.hash,
      ...(lab && { lab: lab.hash }),
    };
    const exported = await stage("export", exportInputs, () =>
      exportModel({
        modelDir,
        gptRun,
        textDir,
        vqDir: vqOut,
        clipDir: clipExportDir(run),
        dataHash,
        lab,
        denoise: data.denoise,
        log: o.log,
      }),
    );
    // After export: saveCheckpoint keeps the bank beside the new weights, and a re-export re-runs this stage.
    const mix = retrainExemplarMix(p.size);
    await stage("exemplars", { model: exported.hash, data: data.hash, mix }, () => exemplarsStage(modelDir, dataDir, mix, o.log));

    const metrics = await stage("evaluate", { model: exported.hash }, async () => {
      const { model } = Transformer.load(modelDir);
      const l = await validationLoss(model, gptData("val", val), val.count);
      model.dispose();
      const t = evaluateTokenizer(imageTokenizer, val, "image tokenizer", "val");
      const m = {
        valImageNats: l.imageNats,
        valImageBits: l.imageBits,
        valTextNats: l.textNats,
        tokenizerValPsnr: t.psnr,
        tokenizerValUsage: t.usage ?? 0,
        // From the CLIP stage's last validation: within-batch retrieval of val captions by their pictures.
        clipValImageToText1: clip.metrics.valImageToText1 ?? 0,
      };
      fs.writeFileSync(path.join(modelDir, "eval.json"), JSON.stringify(m, null, 2) + "\n");
      return m;
    });

    const reg = await stage("register", { model: exported.hash, activate: o.activate }, async () => {
      const relPath = path.relative(process.cwd(), modelDir) || modelDir;
      const cfg = JSON.parse(fs.readFileSync(path.join(modelDir, "manifest.json"), "utf8")).config;
      const v = await upsertModelVersion(o.db, { name: o.name, kind: "dalle", path: relPath, config: cfg, metrics });
      if (o.activate) await activateModelVersion(o.db, v.id);
      o.log(
        `registered model version ${o.name} (${v.id})${o.activate ? ", now active: a running server switches to it on its next request" : "; activate it on /models"}`,
      );
      return { versionId: v.id };
    });
    return { versionId: String(reg.versionId), modelDir, metrics: metrics as Record<string, number>, skipped };
  } finally {
    imageTokenizer.dispose();
  }
}
