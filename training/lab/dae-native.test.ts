// The denoising autoencoder's task on the native engine: one ONNX Runtime step equals the task's tfjs step (loss,
// noisyMse, every gradient), fed the corruption the tfjs loss draws for that step; fed another step's corruption it
// does not; and the loop picks ORT by default for the DAE. (Learning to denoise on the loop: ./dae-task.test.ts; the
// test: test/fixtures/native-trainer.ts.)
import { describe } from "vitest";
import { DEFAULT_DAE_CONFIG } from "../../lib/model/dae-config";
import { DEFAULT_CORRUPTION } from "../../lib/model/dae-corruption";
import { itMatchesTfjsStep, nativeTestSetup, squaresShard } from "../../test/fixtures/native-trainer";
import { createTask, type DAETaskOptions } from "./dae-task";

nativeTestSetup();

describe("the DAE task on the native engine", () => {
  // Step 6's corruption of the same batch: other noise, another step.
  itMatchesTfjsStep({
    model: "DAE",
    task: {
      options: (): DAETaskOptions => ({
        config: { ...DEFAULT_DAE_CONFIG, imageSize: 16, widths: [8, 16], resBlocks: 1 },
        corruption: { ...DEFAULT_CORRUPTION },
        seed: 1,
        // Flat-coloured squares on white, 16×16, red at 30.
        train: squaresShard(16, 30),
        val: squaresShard(4, 30),
      }),
      createTask,
    },
    draw: "corruption",
    logs: { noisyMse: 1e-5 },
  });
});
