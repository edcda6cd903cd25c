// The admin's retraining pipeline: data → image tokenizer (or reuse) → text tokenizer → image codes → transformer →
// export → evaluate → register (→ activate). Each stage records a hash of its inputs in state.json: a stage whose
// inputs did not change is skipped, and the training stages resume from their last checkpoint after an interrupt.
// With --denoise the data stage also runs the lab's DAE over the built dataset (./denoise.ts); the export stage
// carries the source model's lab/ into the new version (./lab-carry.ts).
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { captionsFor, loadSplit, readCaptions, readManifest } from "../../lib/data/manifest";
import type { Db } from "../../lib/db/client";
import { activateModelVersion, findActiveModelVersion, upsertModelVersion } from "../../lib/db/versions";
import { saveCheckpoint } from "../../lib/model/checkpoint";
import { DAE } from "../../lib/model/dae";
import { Transformer } from "../../lib/model/transformer";
import { DEFAULT_TRANSFORMER_CONFIG, type TransformerConfig } from "../../lib/model/transformer-config";
import { DEFAULT_VQ_CONFIG, type VQConfig } from "../../lib/model/vq-config";
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
import type { TrainerConfig } from "../loop/config";
import { shared } from "../loop/task";
import { train as runTraining } from "../loop/trainer";
import { trainTextTokenizer } from "../train-text-tokenizer";
import { evaluateTokenizer } from "../vq/evaluate";
import { createTask as createVqTask, DVAE_SCHEDULE, VQ_TRAINER_DEFAULTS, vqTaskDefinition, type VQTaskOptions } from "../vq/task";
import { checkDenoiser, denoiseDataset, denoiserDir, type DenoiseReport } from "./denoise";
import { carryLab, findLabSource } from "./lab-carry";
import { PRESETS, type Preset } from "./presets";

export interface RetrainOptions {
  name: string;
  /** Folder of the admin's own images + captions; undefined = the emoji corpus from npm packages. */
  data?: string;
  preset: Preset;
  minutesVq?: number;
  minutesGpt?: number;
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
  /** Data-parallel replicas for both training stages (default: one per core). */
  workers?: number | "auto";
  log: (line: string) => void;
}

type State = { stages: Record<string, { hash: string; outputs: Record<string, unknown>; seconds: number }> };

const sha = (x: unknown) =>
  createHash("sha256")
    .update(typeof x === "string" ? x : JSON.stringify(x))
    .digest("hex")
    .slice(0, 16);
const fileHash = (file: string) => sha(fs.readFileSync(file, "utf8"));

/** Hash of a folder's files (names, sizes, mtimes): cheap change detection for the admin's image folder. */
function folderHash(dir: string): string {
  return sha(
    fs
      .readdirSync(dir)
      .sort()
      .map((f) => {
        const s = fs.statSync(path.join(dir, f));
        return [f, s.size, Math.round(s.mtimeMs)];
      }),
  );
}

/**
 * A training stage's folder holds the checkpoint it resumes from after an interrupt. When what the stage trains on
 * has changed since (new uploads, a denoised dataset, another tokenizer), resuming would continue, or at its last
 * step simply keep, a model of the old inputs: the folder is cleared and the stage starts afresh. The time budget is
 * not part of `identity`, so a re-run with more minutes continues where the last one stopped.
 */
function freshIfChanged(dir: string, identity: unknown, log: (line: string) => void): void {
  const file = path.join(dir, "inputs.json");
  const hash = sha(identity);
  if (fs.existsSync(file) && JSON.parse(fs.readFileSync(file, "utf8")).hash !== hash) {
    log(`${path.basename(dir)}: its inputs changed since the last checkpoint; starting it afresh`);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(file, JSON.stringify({ hash, identity }, null, 2) + "\n");
}

/** The loop's settings for one training stage of a preset: the task's defaults with the preset's budget. */
function stageTrainer(
  defaults: Readonly<TrainerConfig>,
  stage: { batchSize: number; steps: number; minutes: number; checkpointEvery: number },
  minutes: number | undefined,
  workers: number | "auto" | undefined,
): TrainerConfig {
  return {
    ...defaults,
    batchSize: stage.batchSize,
    steps: stage.steps,
    minutes: minutes ?? stage.minutes,
    warmup: Math.min(defaults.warmup, stage.steps / 5),
    checkpointEvery: stage.checkpointEvery,
    valEvery: stage.checkpointEvery,
    resume: true,
    workers: workers ?? defaults.workers,
  };
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
  const stateFile = path.join(run, "state.json");
  const state: State = fs.existsSync(stateFile) ? JSON.parse(fs.readFileSync(stateFile, "utf8")) : { stages: {} };
  const skipped: string[] = [];
  const names = ["data", "image-tokenizer", "text-tokenizer", "codes", "transformer", "export", "evaluate", "register"];
  const started = performance.now();

  async function stage<T extends Record<string, unknown>>(name: string, inputs: unknown, work: () => Promise<T>): Promise<T> {
    const hash = sha(inputs);
    const i = names.indexOf(name) + 1;
    const prev = state.stages[name];
    if (prev?.hash === hash) {
      skipped.push(name);
      o.log(`[${i}/${names.length}] ${name}: inputs unchanged, skipped`);
      return prev.outputs as T;
    }
    o.log(`[${i}/${names.length}] ${name}… (${Math.round((performance.now() - started) / 1000)} s so far)`);
    const t0 = performance.now();
    const outputs = await work();
    state.stages[name] = { hash, outputs, seconds: Math.round((performance.now() - t0) / 1000) };
    fs.writeFileSync(stateFile, JSON.stringify(state, null, 2));
    o.log(`[${i}/${names.length}] ${name} done in ${state.stages[name].seconds} s`);
    return outputs;
  }

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
        const config: VQConfig = { ...DEFAULT_VQ_CONFIG, ...p.vq.config, imageSize: p.size };
        const options: VQTaskOptions = {
          config,
          seed: 1,
          train: { ...train, data: shared(train.data) },
          val: { ...val, data: shared(val.data) },
          ...DVAE_SCHEDULE,
          sheet: true,
        };
        const trainer = stageTrainer(VQ_TRAINER_DEFAULTS, p.vq, o.minutesVq, o.workers);
        freshIfChanged(path.join(run, "vq"), { data: data.hash, preset: o.preset }, o.log);
        const task = await createVqTask(options, "main");
        try {
          const r = await runTraining(task, trainer, {
            outDir: path.join(run, "vq"),
            dataHash: data.hash,
            definition: vqTaskDefinition(options),
            backend: tf.getBackend(),
            log: o.log,
          });
          await saveCheckpoint(vqOut, task.params.all(), {
            kind: config.kind,
            config,
            metrics: r.metrics,
            dataHash: data.hash,
            step: r.step,
            dtype: "float16",
            extra: { trainer, hyper: task.hyper },
          });
        } finally {
          task.dispose();
        }
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
    const textLen = Math.max(
      8,
      Math.min(
        64,
        Math.ceil((JSON.parse(fs.readFileSync(path.join(textDir, "tokenizer_config.json"), "utf8")).model_max_length + 2) / 4) * 4,
      ),
    );
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
      const trainer = stageTrainer(GPT_TRAINER_DEFAULTS, p.gpt, o.minutesGpt, o.workers);
      freshIfChanged(gptRun, { data: data.hash, vq: vq.hash, text: text.hash, preset: o.preset }, o.log);
      const task = await createGptTask(options, "main");
      try {
        const r = await runTraining(task, trainer, {
          outDir: gptRun,
          dataHash: data.hash,
          definition: gptTaskDefinition(options),
          backend: tf.getBackend(),
          log: o.log,
        });
        return { step: r.step };
      } finally {
        task.dispose();
      }
    });

    const modelDir = path.join(o.modelsDir, o.name);
    const lab = await findLabSource(o.db, o.defaultModelDir);
    const exportInputs = { vq: vq.hash, text: text.hash, gpt: state.stages.transformer.hash, ...(lab && { lab: lab.hash }) };
    const exported = await stage("export", exportInputs, async () => {
      const { model, manifest: m } = Transformer.load(path.join(gptRun, "model"));
      await saveCheckpoint(modelDir, model.params.all(), {
        kind: "transformer",
        config: model.config,
        metrics: m.metrics,
        dataHash: data.hash,
        step: m.step,
        dtype: "float16",
        extra: { imageTokenizer: "image-tokenizer" },
      });
      model.dispose();
      for (const f of fs.readdirSync(textDir)) fs.copyFileSync(path.join(textDir, f), path.join(modelDir, f));
      fs.rmSync(path.join(modelDir, "image-tokenizer"), { recursive: true, force: true });
      fs.cpSync(vqOut, path.join(modelDir, "image-tokenizer"), { recursive: true });
      const sheets = fs
        .readdirSync(gptRun)
        .filter((f) => /^sheet-\d+\.png$/.test(f))
        .sort();
      if (sheets.length) fs.copyFileSync(path.join(gptRun, sheets[sheets.length - 1]), path.join(modelDir, "samples.png"));
      o.log(carryLab(lab, modelDir));
      // What --denoise did to the training images, beside the model, for an admin looking at it later.
      for (const f of ["denoise.png", "denoise.json"]) fs.rmSync(path.join(modelDir, f), { force: true });
      if (data.denoise) {
        const { sheet, ...facts } = data.denoise;
        if (fs.existsSync(sheet)) fs.copyFileSync(sheet, path.join(modelDir, "denoise.png"));
        fs.writeFileSync(path.join(modelDir, "denoise.json"), JSON.stringify({ ...facts, sheet: "denoise.png" }, null, 2) + "\n");
      }
      return { hash: fileHash(path.join(modelDir, "manifest.json")), lab: lab?.kinds ?? [] };
    });

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
