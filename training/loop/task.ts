// What a model gives the training loop (training/loop/trainer.ts), as minGPT's model gives its trainer a loss: a
// step function and little else. The loop owns the optimizer, the schedule, checkpoints, logging and the data
// order; a task owns its model, its data and its loss. A task is rebuilt in every data-parallel worker from a
// serialisable definition, so it must be constructible from plain data (typed arrays on SharedArrayBuffers).
import type * as tf from "@tensorflow/tfjs";
import type { ParamStore } from "../../lib/model/params";

/** One batch as plain arrays, each holding `rows` rows back to back (row-major): what travels to a worker. */
export interface Batch {
  rows: number;
  arrays: Record<string, Int32Array | Float32Array | Uint8Array>;
}

export interface StepContext {
  step: number;
  /** Fraction of the budget spent, in [0, 1] (by steps or by minutes, whichever is further). */
  progress: number;
  lr: number;
  /** Which replica computes this shard (0 = the main thread): for per-replica random streams. */
  replica: number;
}

export interface StepOutput {
  /** Mean loss over the shard's rows: the loop averages shards by their row counts. */
  loss: tf.Scalar;
  /** Named scalars to log (means over the shard's rows). */
  logs: Record<string, tf.Scalar>;
  /**
   * Tensors the task's afterStep needs for the whole batch (e.g. a VQ-VAE's encoder outputs and codes for its EMA
   * codebook): each is concatenated along axis 0 across replicas, in row order.
   */
  gather?: Record<string, tf.Tensor>;
}

/** One non-parameter input of a native training graph. */
export interface NativeFeed {
  type: "int32" | "uint8" | "float32";
  data: Int32Array | Uint8Array | Float32Array;
  dims: number[];
}

/** A training graph for ONNX Runtime: the loss and d loss / d every parameter it reads (see lib/model/onnx/autodiff.ts). */
export interface NativeGraph {
  bytes: Uint8Array;
  /** The parameters the graph reads: graph inputs named as the ParamStore names them. */
  params: string[];
  loss: string;
  /** Output names of the scalars to log, by log name (as StepOutput.logs). */
  logs: Record<string, string>;
  /** Output name of each parameter's gradient. */
  grads: Record<string, string>;
  /** Output names of the tensors the task's afterStep needs, by gather name (as StepOutput.gather). */
  gather?: Record<string, string>;
}

/**
 * What a task offers the native engine (training/loop/native-engine.ts) instead of a tfjs loss: the same step as
 * one graph. Its loss must equal the task's tfjs `loss` (the tests hold it to the tape).
 */
export interface NativeStep {
  /** The training graph for batches of `rows` rows (static shapes). */
  graph(rows: number): NativeGraph;
  /** This step's inputs besides the parameters: the batch, and per-step random masks from the task's seeded stream. */
  feeds(batch: Batch, ctx: StepContext): Record<string, NativeFeed>;
  /**
   * True when the loss is the mean of per-row terms with as many terms in every row, so that shards weighted by rows
   * give exactly the whole batch's gradient: the engine may then split a batch over replicas. Not so for a loss
   * that couples rows (CLIP's in-batch negatives, a VQ-GAN's adaptive λ from the batch's gradient norms).
   */
  splittable?: boolean;
}

export interface TrainTask {
  /** Checkpoint kind ("transformer", "vqvae", …) and the model's config, for the manifest. */
  readonly kind: string;
  readonly config: object;
  /** The task's own hyper-parameters (caption dropout, KL weight, …), recorded in the manifest. */
  readonly hyper: Record<string, unknown>;
  readonly params: ParamStore;
  /** Training items the loop samples batches from. */
  readonly itemCount: number;
  /** Optional sampling weights per item (with replacement); without them every epoch is a fresh permutation. */
  readonly sampleWeights?: Float32Array;
  /** What one item counts as for the throughput figure, e.g. { unit: "tok", perItem: 87 } or { unit: "img", perItem: 1 }. */
  readonly throughput: { unit: string; perItem: number };
  /**
   * Parameters a warm start does not take from the model it starts from (they keep their initial values, whether
   * that model lacks them or has them under another shape), e.g. a VQ-GAN's discriminator, or a new decoder.
   */
  freshOnWarmStart?(name: string): boolean;
  /**
   * Trainable parameters the optimizer leaves as loaded: their gradients are dropped before clipping and they get
   * no update and no decay, e.g. an image tokenizer's encoder while a new decoder learns its codes.
   */
  frozen?(name: string): boolean;
  /** Which trainable parameters get weight decay. */
  decays(name: string): boolean;
  /** Main thread: the batch for these item indices (per-row choices such as caption dropout are made here). */
  plan(items: Int32Array, step: number): Batch;
  /** Any replica: the loss of a batch shard. Runs inside the loop's gradient tape; leave tensors to the tape. */
  loss(batch: Batch, ctx: StepContext): StepOutput;
  /** The step as a native graph, when the task has one: it then trains on ONNX Runtime by default (--engine). */
  readonly native?: NativeStep;
  /** Main thread, after the optimizer step: non-gradient updates (EMA codebook, dead-code restarts). */
  afterStep?(gathered: Record<string, tf.Tensor>, ctx: StepContext): Promise<void>;
  /** Main thread: validation metrics (lower-camel names, e.g. valImageNats). */
  validate(): Promise<Record<string, number>>;
  /** Main thread, at each checkpoint: a picture of progress (sample or reconstruction sheet). */
  sheet?(file: string): Promise<void>;
  dispose(): void;
}

/**
 * How to build a task anywhere: a module exporting `createTask(options, role)` and its options (structured-clone
 * safe; large arrays on SharedArrayBuffers so workers share rather than copy them).
 */
export interface TaskDefinition<O = unknown> {
  module: string;
  options: O;
}

export type Role = "main" | "worker";

export type CreateTask<O> = (options: O, role: Role) => Promise<TrainTask>;

/** A copy of `a` on a SharedArrayBuffer (a no-op if it already is), so a worker can read it without a copy. */
export function shared<T extends Int32Array | Float32Array | Uint8Array>(a: T): T {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const Ctor = a.constructor as new (b: SharedArrayBuffer) => T;
  const out = new Ctor(new SharedArrayBuffer(a.byteLength));
  out.set(a as never);
  return out;
}

/** Rows [from, to) of a batch (typed-array views, no copy). */
export function sliceBatch(batch: Batch, from: number, to: number): Batch {
  const arrays: Batch["arrays"] = {};
  for (const [name, a] of Object.entries(batch.arrays)) {
    const width = a.length / batch.rows;
    if (!Number.isInteger(width)) throw new Error(`batch array "${name}" has ${a.length} values, not a multiple of ${batch.rows} rows`);
    arrays[name] = a.subarray(from * width, to * width);
  }
  return { rows: to - from, arrays };
}
