// The lab's models for `npm run train:lab -- --model NAME`: one line each. A module here exports `labModel`, which
// says how to build its task (training/loop/task.ts) from the image splits; train-lab.ts does the rest (flags,
// training on the shared loop, export of the checkpoint folder plus the task's sheet). Adding a model is one entry.
import type { Shard } from "../../lib/data/shard";
import type { TrainerConfig } from "../loop/config";
import type { TaskDefinition } from "../loop/task";

export interface LabContext {
  /** Training and validation images (uint8 HWC on SharedArrayBuffers, so workers share them). */
  train: Shard;
  val: Shard;
  seed: number;
  /** One of the model's `presets`. */
  preset: string;
  /** Whether the task should write sheets at checkpoints (the export writes one too, with the task's `sheet`). */
  sheet: boolean;
}

export interface LabModel {
  /** One line for the usage message. */
  summary: string;
  /** Named presets (the first is the default); they live in the task's training module, never in lib/model. */
  presets: readonly [string, ...string[]];
  /** The loop's settings for this model; flags override them. */
  trainerDefaults: Readonly<TrainerConfig>;
  /** How every replica rebuilds the task: a module exporting `createTask(options, role)` and its options. */
  definition(ctx: LabContext): TaskDefinition;
  /** Weights' precision in the exported folder. */
  exportDtype: "float16" | "float32";
}

export const LAB_MODELS = {
  vae: () => import("./vae-task"),
  flow: () => import("./flow-task"),
  dae: () => import("./dae-task"),
  aae: () => import("./aae-task"),
} satisfies Record<string, () => Promise<{ labModel: LabModel }>>;

export type LabModelName = keyof typeof LAB_MODELS;
