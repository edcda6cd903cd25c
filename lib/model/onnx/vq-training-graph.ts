// The image tokenizer's training step (VQModel.forward in ../vq-model.ts, as training/vq/task.ts calls it) as one
// ONNX graph: encoder, bottleneck, decoder and the same loss, reconstruction MSE + β·commitment (+ the codebook
// term when the codebook learns by gradient), with — through ./autodiff.ts — its gradient with respect to every
// trainable parameter, so ONNX Runtime's native kernels run the whole step (issue 31). Parameters are graph inputs
// named as the ParamStore names them.
//
// With an EMA codebook (van den Oord et al. 2017, appendix A.1) the codebook is not trained by the optimizer: it is
// a plain input the caller feeds from the model each step, and the graph outputs what the EMA update and the
// dead-code restarts after the step need (the encoder outputs and their codes), as the tfjs task gathers them.
//
// The dVAE's Gumbel-softmax bottleneck (./gumbel-nodes.ts) takes three more inputs per step: the uniform noise the
// tfjs quantizer would draw for that step's seed, τ and the KL weight (both scheduled by the task).
//
// Kinds: "vqvae", "dvae" and the continuous "ae" baseline (no quantizer: the decoder reads the encoder's output). A
// VQ-GAN's graph (./vqgan-training-graph.ts) is this step's nodes (vqStepNodes) with the adversarial terms added to
// the loss before the backward pass (vqGraphOutputs).
import type { VQConfig } from "../vq-config";
import { gridSize } from "../vq-config";
import { addGradients, type PlantedGradientBugs } from "./autodiff";
import { ConvNodes, type PlantedConvBugs } from "./conv-nodes";
import { DataType, GraphBuilder } from "./graph";
import { gumbelSoftmaxNodes, type PlantedGumbelBugs } from "./gumbel-nodes";
import { decoderFeatureNodes, decoderHeadNodes, encoderNodes } from "./tokenizer-nodes";
import { vectorQuantize } from "./vq-nodes";

/** Deliberate deviations from the tfjs loss, for tests that prove the equality checks can tell (never set them in code). */
export interface PlantedVqBugs {
  /** The decoder reads e[codes] itself instead of z + sg(e[codes] − z): the encoder gets no reconstruction gradient. */
  noStraightThrough?: boolean;
  /**
   * The commitment term without its stop-gradient, mean‖z − e[codes]‖²: it then pulls the codebook too. Only a
   * codebook trained by gradient can show it; an EMA codebook is an input with no gradient either way.
   */
  commitmentUnstopped?: boolean;
}

export interface VqTrainingGraphOptions {
  /** Rows per batch (the graph's shapes are static). */
  batch: number;
  /** Add the gradient outputs (a loss-only graph serves checks). */
  gradients: boolean;
  planted?: PlantedGradientBugs & PlantedConvBugs & PlantedVqBugs & PlantedGumbelBugs;
}

export interface VqTrainingGraph {
  bytes: Uint8Array;
  nodes: number;
  /** Every trainable parameter the graph reads (ParamStore names = input names). */
  params: string[];
  names: {
    /** The batch's pixels, uint8 [B, S, S, C] (0..255, as the task's planned batch holds them). */
    images: string;
    /** The EMA codebook [K, D] fed from the model each step (named as its ParamStore entry); absent when it is trained. */
    codebook?: string;
    /** dVAE: the Gumbel noise's uniform draw [B·h·w, K] float32, its scale, τ and the KL weight (scalars), fed per step. */
    noise?: string;
    noiseScale?: string;
    temperature?: string;
    klWeight?: string;
    loss: string;
    /** Output names of the loss's parts, by the names VQModel.forward logs them under. */
    logs: Record<string, string>;
    /** Encoder outputs [B, h, w, D] and their codes int32 [B, h, w]: what the task's afterStep gathers (VQ-VAE only). */
    gather: Record<string, string>;
    /** d loss / d parameter, by parameter name. */
    grads: Record<string, string>;
  };
}

/** The forward nodes of a tokenizer's step (VQModel.forward), for this graph and the VQ-GAN's. */
export interface VqStepNodes {
  n: ConvNodes;
  /** The batch's pixels, uint8 [B, S, S, C]. */
  images: string;
  /** The images as the model sees them, [B, C, S, S] in [0, 1]. */
  x: string;
  /** The decoder's output, [B, C, S, S] in roughly [0, 1], unclipped. */
  reconstruction: string;
  /** mean (reconstruction − x)², the reconstruction term. */
  recon: string;
  /** VQModel.forward's loss: the reconstruction term + the bottleneck's weighted term. */
  loss: string;
  /** The loss's parts, by the names VQModel.forward logs them under. */
  logs: Record<string, string>;
  /** Encoder outputs [B, h, w, D] and their codes int32 [B, h, w], for the EMA update (VQ-VAE only). */
  gather: Record<string, string>;
  codebook?: string;
  gumbel: { noise?: string; noiseScale?: string; temperature?: string; klWeight?: string };
}

export function vqStepNodes(g: GraphBuilder, c: VQConfig, o: Pick<VqTrainingGraphOptions, "batch" | "planted">): VqStepNodes {
  const b = o.batch;
  const { imageSize: s, channels: ch, embedDim: d, codebookSize: k } = c;
  const grid = gridSize(c);
  const n = new ConvNodes(g, { kind: "inputs" }, o.planted);
  const planted = o.planted ?? {};

  const images = g.input("images", DataType.UINT8, [b, s, s, ch]);
  const unit = g.op("Div", [g.op("Cast", [images], { to: { i: DataType.FLOAT } }), g.scalar(255)]); // [B, S, S, C] in [0, 1]
  const x = g.op("Transpose", [unit], { perm: { ints: [0, 3, 1, 2] } }); // [B, C, S, S]
  // A dVAE's encoder outputs logits over the K codes, the others a D-dimensional vector (Quantizer.inputDim).
  const outDim = c.kind === "dvae" ? k : d;
  const zE = encoderNodes(n, c, x, outDim); // [B, outDim, h, w]
  const latents = g.op("Transpose", [zE], { perm: { ints: [0, 2, 3, 1] } }); // [B, h, w, outDim]

  const mean = (v: string) => g.op("ReduceMean", [v], { keepdims: { i: 0 } });
  const meanSq = (v: string) => mean(g.op("Mul", [v, v]));
  const logs: Record<string, string> = {};
  const gather: Record<string, string> = {};
  let codebook: string | undefined;
  const gumbel: VqStepNodes["gumbel"] = {};
  let decoderInput = latents; // [B, h, w, D]
  let bottleneckLoss: string | undefined;
  if (c.kind === "vqvae") {
    const z = g.op("Reshape", [latents, g.ints([b * grid * grid, d])]); // [N, D]
    // An EMA codebook is state, not a parameter: fed each step, never differentiated.
    const e = c.ema ? (codebook = g.input("vq.embedding", DataType.FLOAT, [k, d])) : n.w("vq.embedding", [k, d]);
    const q = vectorQuantize(g, z, e);
    const commitment = planted.commitmentUnstopped ? meanSq(g.op("Sub", [z, q.zQ])) : q.commitment;
    logs.commitment = commitment;
    bottleneckLoss = g.op("Mul", [commitment, g.scalar(c.beta)]);
    if (!c.ema) {
      logs.codebook = q.codebook;
      bottleneckLoss = g.op("Add", [bottleneckLoss, q.codebook]);
    }
    decoderInput = g.op("Reshape", [planted.noStraightThrough ? q.zQ : q.zQst, g.ints([b, grid, grid, d])]); // [B, h, w, D]
    gather.latents = latents;
    const codes = g.op("Cast", [q.codes], { to: { i: DataType.INT32 } }); // [N] int32, as tf.argMin gives
    gather.codes = g.op("Reshape", [codes, g.ints([b, grid, grid])]); // [B, h, w]
  } else if (c.kind === "dvae") {
    const rows = b * grid * grid;
    gumbel.noise = g.input("gumbel.noise", DataType.FLOAT, [rows, k]);
    gumbel.noiseScale = g.input("gumbel.noiseScale", DataType.FLOAT, []);
    gumbel.temperature = g.input("gumbel.temperature", DataType.FLOAT, []);
    gumbel.klWeight = g.input("gumbel.klWeight", DataType.FLOAT, []);
    const logits = g.op("Reshape", [latents, g.ints([rows, k])]); // [N, K]
    const q = gumbelSoftmaxNodes(
      g,
      logits,
      gumbel.noise,
      gumbel.noiseScale,
      gumbel.temperature,
      gumbel.klWeight,
      k,
      c.hardGumbel,
      c.usageWeight,
      planted,
    );
    logs.kl = q.kl;
    logs.batchKl = q.batchKl;
    bottleneckLoss = q.loss;
    const zq = g.op("MatMul", [q.y, n.w("gumbel.embedding", [k, d])]); // [N, D]
    decoderInput = g.op("Reshape", [zq, g.ints([b, grid, grid, d])]); // [B, h, w, D]
    // No gather: the dVAE's codebook is trained by gradient, its afterStep has nothing to do.
  } else if (c.kind !== "ae") {
    throw new Error(`no native training graph for a ${String(c.kind)}`);
  }
  const zQ = g.op("Transpose", [decoderInput], { perm: { ints: [0, 3, 1, 2] } }); // [B, D, h, w]
  const reconstruction = decoderHeadNodes(n, c, decoderFeatureNodes(n, c, zQ)); // [B, C, S, S]
  // Mean over every pixel value: the same elements as the tfjs NHWC mean, in another order.
  const recon = meanSq(g.op("Sub", [reconstruction, x]));
  logs.reconstruction = recon;
  const loss = bottleneckLoss ? g.op("Add", [recon, bottleneckLoss]) : recon;
  return { n, images, x, reconstruction, recon, loss, logs, gather, codebook, gumbel };
}

/**
 * The backward pass of `loss` (every parameter the graph read but an EMA codebook) and the graph's outputs: the
 * loss, the logged terms, the gathered encoder outputs and codes, and `extra` gathered outputs by name.
 */
export function vqGraphOutputs(
  g: GraphBuilder,
  c: VQConfig,
  step: VqStepNodes,
  loss: string,
  logs: Record<string, string>,
  o: Omit<VqTrainingGraphOptions, "planted"> & { planted?: PlantedGradientBugs },
  extra: Record<string, string> = {},
): VqTrainingGraph {
  const b = o.batch;
  const grid = gridSize(c);
  const params = step.n.params().filter((p) => p !== step.codebook);
  const grads: Record<string, string> = {};
  if (o.gradients) {
    const dp = addGradients(g, loss, params, { planted: o.planted });
    for (const p of params) {
      grads[p] = `grad.${p}`;
      g.output(dp.get(p)!, grads[p], DataType.FLOAT, g.shapeOf(p)!);
    }
  }
  g.output(loss, "loss", DataType.FLOAT, []);
  const logNames: Record<string, string> = {};
  // The "ae" loss is its reconstruction term itself: one value, one output.
  for (const [name, v] of Object.entries(logs))
    if (v === loss) logNames[name] = "loss";
    else g.output(v, (logNames[name] = `log.${name}`), DataType.FLOAT, []);
  const gatherNames: Record<string, string> = {};
  if (step.gather.latents) {
    g.output(step.gather.latents, (gatherNames.latents = "latents"), DataType.FLOAT, [b, grid, grid, c.embedDim]);
    g.output(step.gather.codes, (gatherNames.codes = "codes"), DataType.INT32, [b, grid, grid]);
  }
  for (const [name, v] of Object.entries(extra)) g.output(v, (gatherNames[name] = name), DataType.FLOAT, g.shapeOf(v)!);
  return {
    bytes: g.toBytes(),
    nodes: g.nodeCount(),
    params,
    names: { images: step.images, codebook: step.codebook, ...step.gumbel, loss: "loss", logs: logNames, gather: gatherNames, grads },
  };
}

export function exportVqTrainingGraph(c: VQConfig, o: VqTrainingGraphOptions): VqTrainingGraph {
  const g = new GraphBuilder("tessera-vq-train");
  const step = vqStepNodes(g, c, o);
  return vqGraphOutputs(g, c, step, step.loss, step.logs, o);
}
