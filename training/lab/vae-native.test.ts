// The VAE's task on the native engine: one ONNX Runtime step equals the task's tfjs step (loss, bpd, kl, every
// gradient), fed the ε and KL weight the tfjs loss draws for that step; fed another step's ε it does not; ORT is the
// default for the VAE; and on the loop, a few ORT steps end where as many tfjs steps do, with checkpoints of the same
// format that VAE.load reads, the exported float16 one included. (Learning on the loop: ./vae-task.test.ts; the two
// tests: test/fixtures/native-trainer.ts.)
import { describe } from "vitest";
import { VAE } from "../../lib/model/vae";
import { DEFAULT_VAE_CONFIG, type VAEConfig } from "../../lib/model/vae-config";
import { itMatchesTfjsLoop, itMatchesTfjsStep, nativeTestSetup, squaresShard, type TaskKit } from "../../test/fixtures/native-trainer";
import { createTask, VAE_TRAINER_DEFAULTS, vaeTaskDefinition, type VAETaskOptions } from "./vae-task";

const dir = nativeTestSetup("vae-native");

/** The shipped likelihood (discretised logistic) at a tiny size. */
const CONFIG: VAEConfig = { ...DEFAULT_VAE_CONFIG, imageSize: 16, widths: [8, 16], resBlocks: 1, latentDim: 8, likelihood: "logistic" };

const VAE_TASK: TaskKit<VAETaskOptions> = {
  // The squares have one channel at level 0 on white: both edge bins of the logistic in every batch.
  options: () => ({ config: CONFIG, seed: 1, train: squaresShard(16), val: squaresShard(4), klWarmupFraction: 0.5 }),
  createTask,
  definition: vaeTaskDefinition,
  defaults: VAE_TRAINER_DEFAULTS,
};

describe("the VAE task on the native engine", () => {
  // Step 5 at progress 0.1 of a 0.5 warm-up: KL weight 0.2, so a graph that ignored it would be seen. Step 6's ε for
  // the same batch: another z, another gradient.
  itMatchesTfjsStep({
    model: "VAE",
    task: VAE_TASK,
    draw: "ε",
    logs: { bpd: 1e-5, kl: 1e-4 },
  });

  itMatchesTfjsLoop({
    model: "VAE",
    task: VAE_TASK,
    dir,
    metric: "valBitsPerDim",
    folders: { model: 1e-7, export: 2e-3 }, // float16 keeps 11 bits
    load: (folder) => VAE.load(folder),
    config: CONFIG,
  });
});
