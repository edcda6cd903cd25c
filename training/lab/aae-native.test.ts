// The adversarial autoencoder's task on the native engine: one ONNX Runtime step equals the task's tfjs step (loss,
// recBpd, gen, disc, dAcc, every gradient), fed the noise and generator weight the tfjs loss uses for that step; fed
// another step's noise it does not; ORT is the default for the AAE; and on the loop, a few ORT steps end where as
// many tfjs steps do, with checkpoints of the same format that AAE.load reads, the exported float16 one included.
// (The two tests: test/fixtures/native-trainer.ts.)
import { describe } from "vitest";
import { AAE, DEFAULT_AAE_CONFIG, type AAEConfig } from "../../lib/model/aae";
import { itMatchesTfjsLoop, itMatchesTfjsStep, nativeTestSetup, squaresShard, type TaskKit } from "../../test/fixtures/native-trainer";
import { AAE_TRAINER_DEFAULTS, aaeTaskDefinition, createTask, type AAETaskOptions } from "./aae-task";

const dir = nativeTestSetup("aae-native");

const CONFIG: AAEConfig = { ...DEFAULT_AAE_CONFIG, imageSize: 16, widths: [8, 16], resBlocks: 1, latentDim: 8, discHidden: 16 };

const AAE_TASK: TaskKit<AAETaskOptions> = {
  options: () => ({ config: CONFIG, seed: 1, train: squaresShard(16), val: squaresShard(4), advWeight: 50, advWarmupFraction: 0.2 }),
  createTask,
  definition: aaeTaskDefinition,
  defaults: AAE_TRAINER_DEFAULTS,
};

describe("the AAE task on the native engine", () => {
  // Step 5 at progress 0.1 of a 0.2 warm-up: the generator term at half its weight, so a graph that ignored it would
  // be seen. Step 6's noise for the same batch: another z and other prior samples, another gradient.
  itMatchesTfjsStep({
    model: "AAE",
    task: AAE_TASK,
    draw: "noise",
    logs: { recBpd: 1e-5, gen: 1e-5, disc: 1e-5, dAcc: 1e-5 },
  });

  itMatchesTfjsLoop({
    model: "AAE",
    task: AAE_TASK,
    dir,
    metric: "valRecBitsPerDim",
    folders: { model: 1e-7, export: 2e-3 }, // float16 keeps 11 bits
    load: (folder) => AAE.load(folder),
    config: CONFIG,
  });
});
