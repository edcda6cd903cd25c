// The training loop's settings with their defaults (minGPT's Trainer.get_default_config), and the one set of
// command-line flags every training script shares. Each task overrides what it needs (e.g. the VQ-VAE's lr) in
// its own defaults beside its step function; the scripts only pass flags through.
import { z } from "zod";
import { flag } from "../cli";

export interface TrainerConfig {
  batchSize: number;
  /** Budget: stop after `steps` optimizer steps or `minutes` of training (0 = no time limit), whichever first. */
  steps: number;
  minutes: number;
  /** Peak learning rate, linear warm-up steps, and the cosine floor as a fraction of the peak. */
  lr: number;
  warmup: number;
  lrFloor: number;
  /** AdamW (Loshchilov & Hutter 2019). Decay applies only where the task's `decays(name)` says. */
  beta1: number;
  beta2: number;
  weightDecay: number;
  /** Global gradient-norm clipping (0 = off). */
  clip: number;
  seed: number;
  /** Which engine runs the step: ONNX Runtime over the task's native graph, or tfjs; "auto" = ort where the task has one. */
  engine: "auto" | "ort" | "tfjs";
  /** Cores: tfjs data-parallel replicas (main thread + workers − 1 threads); ort replicas × ortThreads. "auto" = one per core. */
  workers: number | "auto";
  /**
   * ort: intra-op threads per replica where the task's graph can be split by rows (NativeStep.splittable), the
   * `workers` cores then running workers / ortThreads replicas; "auto": a one-thread replica per core while each
   * shard keeps ≥ 16 rows, and one session of every core for models of ≥ 8 M parameters (native-engine.ts
   * nativeLayout). Unsplittable graphs run as one session of `workers` threads.
   */
  ortThreads: number | "auto";
  checkpointEvery: number;
  valEvery: number;
  /** A line in log.jsonl every this many steps (validation lines come in addition). */
  logEvery: number;
  /** Go on from `<out>/model` + `<out>/optimizer` if present. */
  resume: boolean;
  /** When there is no checkpoint to resume: start from the weights of this exported model folder (new schedule). */
  warmStart: string | null;
}

export const DEFAULT_TRAINER_CONFIG: Readonly<TrainerConfig> = Object.freeze({
  batchSize: 32,
  steps: 1_000_000,
  minutes: 0,
  lr: 1e-3,
  warmup: 100,
  lrFloor: 0.1,
  beta1: 0.9,
  beta2: 0.999,
  weightDecay: 0,
  clip: 0,
  seed: 1,
  engine: "auto",
  workers: "auto",
  ortThreads: "auto",
  checkpointEvery: 500,
  valEvery: 100,
  logEvery: 10,
  resume: false,
  warmStart: null,
} satisfies TrainerConfig);

/**
 * The shared training flags, defaulting to `defaults` (a task's trainer defaults). Numbers must be plain decimal
 * numbers; a typo stops the script with the accepted values.
 */
export function trainerFlags(defaults: Readonly<TrainerConfig>) {
  const num = () => z.coerce.number().refine(Number.isFinite, "must be a number");
  return {
    batchSize: num().int().min(1).max(4096).default(defaults.batchSize),
    steps: num().int().positive().default(defaults.steps),
    minutes: num()
      .min(0)
      .max(7 * 24 * 60)
      .default(defaults.minutes),
    lr: num().positive().max(1).default(defaults.lr),
    warmup: num().int().min(0).default(defaults.warmup),
    lrFloor: num().min(0).max(1).default(defaults.lrFloor),
    weightDecay: num().min(0).max(1).default(defaults.weightDecay),
    clip: num().min(0).default(defaults.clip),
    seed: num().int().min(0).default(defaults.seed),
    engine: z.enum(["auto", "ort", "tfjs"]).default(defaults.engine),
    workers: z.union([z.literal("auto"), num().int().min(1).max(64)]).default(defaults.workers),
    ortThreads: z.union([z.literal("auto"), num().int().min(1).max(64)]).default(defaults.ortThreads),
    checkpointEvery: num().int().positive().default(defaults.checkpointEvery),
    valEvery: num().int().positive().default(defaults.valEvery),
    resume: flag(),
    warmStart: z.string().nullable().default(defaults.warmStart),
  };
}

/** The TrainerConfig from parsed flags (the fields flags do not set keep the task's defaults). */
export function trainerConfigFrom(defaults: Readonly<TrainerConfig>, flags: Partial<TrainerConfig>): TrainerConfig {
  const picked = Object.fromEntries(
    Object.keys(defaults)
      .filter((k) => k in flags && flags[k as keyof TrainerConfig] !== undefined)
      .map((k) => [k, flags[k as keyof TrainerConfig]]),
  );
  return { ...defaults, ...picked };
}

export const TRAINER_FLAGS_USAGE =
  "[--minutes M | --steps N] [--batch-size N] [--lr X] [--warmup N] [--lr-floor F] [--weight-decay X] [--clip X] [--seed N] [--engine auto|ort|tfjs] [--workers N|auto] [--ort-threads N|auto] [--checkpoint-every N] [--val-every N] [--resume] [--warm-start MODEL_DIR]";
