// The adversarial autoencoder's step for the native engine (training/loop/native-engine.ts): the same loss as the
// task's tfjs `loss` (./aae-task.ts), as one ONNX graph with its backward pass (lib/model/onnx/aae-training-graph.ts).
// Each step feeds the batch's pixels, ε for z = μ + σ ⊙ ε, the prior samples D is shown and the generator term's
// weight, from the same per-step settings the tfjs loss reads (the task hands over its own `aaeStep`). With the
// adaptive weight the step also feeds how λ is treated (./aae-lambda.ts HeldLambda.plan, the schedule the tfjs loss
// follows), and the graph hands back the λ it used (gathered as advLambda) for the task's afterStep to hold.
import type { Shard } from "../../lib/data/shard";
import type { AAEConfig } from "../../lib/model/aae";
import { AAE_GRAPH_INPUTS, exportAaeTrainingGraph } from "../../lib/model/onnx/aae-training-graph";
import type { NativeFeed, NativeStep, StepContext } from "../loop/task";
import type { AaeLambdaPlan } from "./aae-lambda";
import { vaeNoise } from "./vae-native-step";

/** An AAE step's settings: the generator term's weight and the seed of AAE.terms' noise. */
export interface AaeStep {
  /** Fixed λ: λ·ramp per pixel value, the weight itself. Adaptive: factor·ramp, what the measured or held λ multiplies. */
  generatorWeight: number;
  noiseSeed: number;
  /** Adaptive only: whether this step measures λ afresh, and the λ held. */
  lambda?: AaeLambdaPlan;
}

/** The seed AAE.terms draws its prior samples from, given the step's noise seed (ε's). */
export const priorSeed = (noiseSeed: number) => (noiseSeed + 1) >>> 0;

const scalar = (v: number): NativeFeed => ({ type: "float32", data: Float32Array.of(v), dims: [] });

/** `adaptive`: the graph weights the generator term by its adaptive λ, and every step's settings must plan λ. */
export function aaeNativeStep(
  config: AAEConfig,
  shard: Pick<Shard, "height" | "width" | "channels">,
  settings: (ctx: StepContext) => AaeStep,
  adaptive = false,
): NativeStep {
  const names = AAE_GRAPH_INPUTS;
  return {
    graph(rows) {
      const g = exportAaeTrainingGraph(config, { batch: rows, gradients: true, adaptive });
      return { bytes: g.bytes, params: g.params, loss: g.names.loss, logs: g.names.logs, grads: g.names.grads, gather: g.names.gather };
    },
    feeds(batch, ctx) {
      const s = settings(ctx);
      const latents = [batch.rows, config.latentDim];
      return {
        [names.images]: {
          type: "uint8",
          data: batch.arrays.images as Uint8Array,
          dims: [batch.rows, shard.height, shard.width, shard.channels],
        },
        // The two draws AAE.terms makes (lib/model/aae.ts): ε from the seed, the prior samples from the next seed.
        [names.eps]: { type: "float32", data: vaeNoise(batch.rows, config.latentDim, s.noiseSeed), dims: latents },
        [names.prior]: { type: "float32", data: vaeNoise(batch.rows, config.latentDim, priorSeed(s.noiseSeed)), dims: latents },
        [names.generatorWeight]: scalar(s.generatorWeight),
        ...(adaptive ? lambdaFeeds(s) : {}),
      };
    },
  };
}

function lambdaFeeds(s: AaeStep): Record<string, NativeFeed> {
  if (!s.lambda) throw new Error("the adaptive AAE graph needs each step's λ plan");
  return {
    [AAE_GRAPH_INPUTS.remeasure]: scalar(s.lambda.remeasure ? 1 : 0),
    [AAE_GRAPH_INPUTS.lambdaHeld]: scalar(s.lambda.held),
  };
}
