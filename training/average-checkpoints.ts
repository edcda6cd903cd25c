// `npm run average -- <checkpoint> <checkpoint> [… ] --out DIR`: checkpoint averaging — the element-wise mean of
// the weights of several checkpoints of one run (Vaswani et al. 2017, §6.1: the last 5 checkpoints averaged;
// Izmailov et al. 2018, "Averaging Weights Leads to Wider Optima": the mean of points along the end of a run
// generalises better than any one of them). The first checkpoint's folder is the template: its manifest (config,
// data hash, extra) and side files (tokenizers, the image tokenizer, sheets) are copied, its weights replaced, and
// the manifest's extra records what was averaged. Every checkpoint must be the same model: one kind, one config,
// the same tensors and shapes, trained on the same data — anything else is refused before anything is written.
import fs from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { z } from "zod";
import { loadCheckpoint, removeFolder, saveCheckpoint } from "../lib/model/checkpoint";
import { parseArgs, runMain } from "./cli";
import { averageTensors, incompatibility } from "./loop/average";

const USAGE = "usage: npm run average -- <checkpoint folder> <checkpoint folder> [...] --out DIR";

async function main(): Promise<void> {
  const { positional: dirs, flags } = parseArgs(process.argv.slice(2), z.object({ out: z.string().min(1) }).strict(), USAGE);
  if (dirs.length < 2) throw new Error(`give at least two checkpoints\n${USAGE}`);
  const out = path.resolve(flags.out);
  if (dirs.some((d) => path.resolve(d) === out)) throw new Error(`--out ${flags.out} is one of the inputs: write the mean elsewhere`);
  const loaded = dirs.map((d) => ({ dir: d, ...loadCheckpoint(d) }));
  try {
    const first = loaded[0];
    for (const l of loaded.slice(1)) {
      const why = incompatibility(first.manifest, l.manifest);
      if (why) throw new Error(`${l.dir} cannot be averaged with ${first.dir}: ${why}`);
    }
    const mean = averageTensors(loaded.map((l) => l.tensors));
    try {
      // The template's side files first; saveCheckpoint then keeps them and replaces weights and manifest.
      removeFolder(out);
      fs.cpSync(first.dir, out, { recursive: true });
      const m = first.manifest;
      await saveCheckpoint(out, mean, {
        kind: m.kind,
        config: m.config,
        dataHash: m.dataHash,
        step: Math.max(...loaded.map((l) => l.manifest.step)),
        dtype: m.weights.dtype,
        // The inputs' validation metrics do not hold for the mean: evaluate it.
        metrics: {},
        extra: { ...m.extra, averagedFrom: loaded.map((l) => ({ dir: l.dir, step: l.manifest.step })) },
      });
    } finally {
      tf.dispose([...mean.values()]);
    }
    console.log(`averaged ${loaded.length} checkpoints (steps ${loaded.map((l) => l.manifest.step).join(", ")}) → ${flags.out}`);
  } finally {
    for (const l of loaded) tf.dispose([...l.tensors.values()]);
  }
}

runMain("average", main);
