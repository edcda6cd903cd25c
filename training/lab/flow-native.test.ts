// Real-NVP's task on the native engine: one ONNX Runtime step equals the task's tfjs step (loss and every gradient,
// on scrambled weights so no coupling is the identity), fed the dequantisation noise the tfjs loss draws for that
// step; fed another step's noise it does not; ORT is the default for the flow; and on the loop, a few ORT steps end
// where as many tfjs steps do, with checkpoints of the same format that RealNVP.load reads. (Learning and the
// metrics on the loop: ./flow-task.test.ts; the two tests: test/fixtures/native-trainer.ts.)
import * as tf from "@tensorflow/tfjs";
import { describe } from "vitest";
import type { Shard } from "../../lib/data/shard";
import { RealNVP } from "../../lib/model/flow";
import { DEFAULT_FLOW_CONFIG, type FlowConfig } from "../../lib/model/flow-config";
import { itMatchesTfjsLoop, itMatchesTfjsStep, nativeTestSetup, type TaskKit } from "../../test/fixtures/native-trainer";
import { shared, type TrainTask } from "../loop/task";
import { createTask, FLOW_TRAINER_DEFAULTS, flowTaskDefinition, type FlowTaskOptions } from "./flow-task";

const dir = nativeTestSetup("flow-native");

/** Flat-coloured squares on a dark ground with a little grain, 8×8 RGB. */
function shard(count: number): Shard {
  const data = new Uint8Array(count * 8 * 8 * 3);
  for (let k = 0; k < data.length; k++) {
    const i = Math.floor(k / 192);
    const p = Math.floor(k / 3) % 64;
    const [y, x] = [Math.floor(p / 8), p % 8];
    const inside = Math.abs(y - 3 - (i % 2)) < 2 && Math.abs(x - 3 - ((i >> 1) % 2)) < 2;
    data[k] = (inside ? 200 : 30) + ((k * 7) % 23);
  }
  return { count, height: 8, width: 8, channels: 3, data: shared(data) };
}

/** Both scales' machinery (checkerboards, squeeze, channel couplings, factor-out) and a residual block. */
const CONFIG: FlowConfig = { ...DEFAULT_FLOW_CONFIG, imageSize: 8, scales: 2, hidden: [4, 6], resBlocks: 1 };

const FLOW_TASK: TaskKit<FlowTaskOptions> = {
  options: () => ({ config: CONFIG, seed: 1, train: shard(16), val: shard(4) }),
  createTask,
  definition: flowTaskDefinition,
  defaults: FLOW_TRAINER_DEFAULTS,
};

/** Every weight of the task's flow random, so every parameter has a gradient (at init most are zero). */
function scramble(task: TrainTask): void {
  let k = 0;
  for (const [name, v] of task.params.all())
    tf.tidy(() =>
      v.assign(
        name.endsWith(".scale") ? tf.randomUniform(v.shape, 0.5, 1.5, "float32", k++) : tf.randomNormal(v.shape, 0, 0.15, "float32", k++),
      ),
    );
}

describe("the Real-NVP task on the native engine", () => {
  // Step 6's noise for the same batch: another y, another gradient. The flow logs no terms.
  itMatchesTfjsStep({ model: "flow", task: FLOW_TASK, draw: "noise", logs: {}, prepare: scramble });

  itMatchesTfjsLoop({
    model: "flow",
    task: FLOW_TASK,
    dir,
    metric: "valBitsPerDim",
    folders: { model: 0 }, // the very floats the run ended at
    load: (folder) => RealNVP.load(folder),
    config: CONFIG,
  });
});
