// `npm run train:lab -- --model vae [--preset default|tiny] [--minutes M | --steps N] [--out runs/lab-vae]
//   [--export models/default/lab/vae] [--data data/datasets/emoji] [--size 32] + the shared trainer flags`
// Trains one of the lab's models (training/lab/models.ts: one entry each) on the emoji images (`npm run data`
// first) on the shared training loop (both cores, data-parallel). Ctrl-C saves a checkpoint; --resume goes on from
// it. --export writes the servable checkpoint folder (manifest with config, metrics and data hash, weights) and the
// task's sample sheet beside it (samples.png); the app serves a model's `lab/<name>/` sub-folder.
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { datasetHash, loadSplit, readManifest } from "../lib/data/manifest";
import { saveCheckpoint } from "../lib/model/checkpoint";
import { initBackend } from "../lib/tensor/backend";
import { registerFastGradients } from "../lib/tensor/gradients";
import { parseFlags, runMain } from "./cli";
import { LAB_MODELS, type LabModelName } from "./lab/models";
import { TRAINER_FLAGS_USAGE, trainerConfigFrom, trainerFlags } from "./loop/config";
import { shared, type CreateTask } from "./loop/task";
import { train } from "./loop/trainer";

const names = Object.keys(LAB_MODELS) as [LabModelName, ...LabModelName[]];
const USAGE = `usage: npm run train:lab -- --model ${names.join("|")} [--preset NAME] [--out DIR] [--export DIR] [--data DIR] [--size 32] ${TRAINER_FLAGS_USAGE}`;

runMain("train:lab", async () => {
  const argv = process.argv.slice(2);
  // The model decides the trainer defaults the other flags fall back to: read --model first.
  const picked = z
    .object({ model: z.enum(names, { error: `--model must be one of ${names.join(", ")}` }) })
    .safeParse({ model: argv[argv.findIndex((a) => a === "--model") + 1] ?? argv.find((a) => a.startsWith("--model="))?.slice(8) });
  if (!picked.success) throw new Error(`${picked.error.issues[0].message}\n${USAGE}`);
  const { labModel: lab } = await LAB_MODELS[picked.data.model]();
  const defaults = lab.trainerDefaults;
  const Flags = z.object({
    model: z.enum(names),
    preset: z
      .enum(lab.presets, { error: `--preset must be one of ${lab.presets.join(", ")} for ${picked.data.model}` })
      .default(lab.presets[0]),
    data: z.string().default(path.join("data", "datasets", "emoji")),
    size: z.coerce.number().int().positive().default(32),
    out: z.string().optional(),
    export: z.string().optional(),
    ...trainerFlags(defaults),
  });
  const flags = parseFlags(argv, Flags, USAGE);
  if (flags.minutes === 0 && flags.steps === defaults.steps) throw new Error(`give a budget: --minutes M or --steps N\n${USAGE}`);
  const backend = await initBackend();
  registerFastGradients();
  const manifest = readManifest(flags.data);
  const train0 = loadSplit(flags.data, "train", flags.size, manifest);
  const val0 = loadSplit(flags.data, "val", flags.size, manifest);
  const outDir = flags.out ?? path.join("runs", `lab-${flags.model}`);
  const dataHash = datasetHash(flags.data);
  const definition = lab.definition({
    train: { ...train0, data: shared(train0.data) },
    val: { ...val0, data: shared(val0.data) },
    seed: flags.seed,
    preset: flags.preset,
    sheet: true,
  });
  const trainer = trainerConfigFrom(defaults, flags);
  console.log(
    `training ${flags.model} (${flags.preset}) on ${train0.count} images at ${flags.size}×${flags.size}, backend ${backend.name}; checkpoints in ${outDir}`,
  );
  // The main thread builds its task as every worker does: from the definition's module.
  const { createTask } = (await import(definition.module)) as { createTask: CreateTask<unknown> };
  const task = await createTask(definition.options, "main");
  try {
    const r = await train(task, trainer, { outDir, dataHash, definition, backend: backend.name });
    console.log(
      JSON.stringify({
        model: flags.model,
        steps: r.step,
        workers: r.workers,
        imagesPerSecond: Math.round(r.itemsPerSecond),
        ...r.metrics,
      }),
    );
    if (flags.export) {
      await saveCheckpoint(flags.export, task.params.all(), {
        kind: task.kind,
        config: task.config,
        metrics: { ...r.metrics, steps: r.step },
        dataHash,
        step: r.step,
        dtype: lab.exportDtype,
        extra: { trainer, hyper: task.hyper, preset: flags.preset },
      });
      if (task.sheet) await task.sheet(path.join(flags.export, "samples.png"));
      console.log(`exported ${lab.exportDtype} ${flags.model} → ${flags.export}${task.sheet ? " (with samples.png)" : ""}`);
    }
  } finally {
    task.dispose();
  }
});
