// The lab's denoising autoencoder's training step (../dae.ts: mean over the batch of DAE.loss, as
// training/lab/dae-task.ts takes it) as one ONNX graph with, through ./autodiff.ts, its gradient with respect to
// every parameter, so ONNX Runtime's native kernels run the whole step. The corruption q(x̃|x) is not in the graph:
// the caller draws it in JS from the task's seeded stream (../dae-corruption.ts) and feeds x̃ beside the clean
// pixels, as the batch itself is fed. Parameters are graph inputs named as the ParamStore names them.
import type { DAEConfig } from "../dae-config";
import { addGradients, type PlantedGradientBugs } from "./autodiff";
import { ConvNodes, type PlantedConvBugs } from "./conv-nodes";
import { DataType, GraphBuilder } from "./graph";

/** Deliberate deviations from the tfjs loss, for tests that prove the equality checks can tell (never set them in code). */
export interface PlantedDaeBugs {
  /** The network reads the clean image instead of x̃ (it then learns the identity, not to denoise). */
  cleanInput?: boolean;
  /** The loss compares the reconstruction with x̃ instead of the clean image. */
  noisyTarget?: boolean;
  /** No residual: the output is the decoder's correction alone, not x̃ + correction. */
  noResidual?: boolean;
}

export interface DaeTrainingGraphOptions {
  /** Rows per batch (the graph's shapes are static). */
  batch: number;
  /** Add the gradient outputs (a loss-only graph serves checks). */
  gradients: boolean;
  planted?: PlantedGradientBugs & PlantedConvBugs & PlantedDaeBugs;
}

export interface DaeTrainingGraph {
  bytes: Uint8Array;
  nodes: number;
  /** Every trainable parameter the graph reads (ParamStore names = input names). */
  params: string[];
  names: {
    /** The clean batch, uint8 [B, S, S, C] (0..255, as the task's planned batch holds it). */
    images: string;
    /** x̃, float32 [B, S, S, C] in [0, 1]: the corruption of images / 255 the task drew for this step. */
    noisy: string;
    loss: string;
    /** Output names of the logged scalars (noisyMse: the corruption's own error, where the DAE starts). */
    logs: Record<string, string>;
    /** d loss / d parameter, by parameter name. */
    grads: Record<string, string>;
  };
}

export function exportDaeTrainingGraph(c: DAEConfig, o: DaeTrainingGraphOptions): DaeTrainingGraph {
  const b = o.batch;
  const { imageSize: s, channels: ch, widths } = c;
  const planted = o.planted ?? {};
  const g = new GraphBuilder("tessera-dae-train");
  const n = new ConvNodes(g, { kind: "inputs" }, o.planted);

  const images = g.input("images", DataType.UINT8, [b, s, s, ch]);
  const noisy = g.input("noisy", DataType.FLOAT, [b, s, s, ch]);
  const unit = g.op("Div", [g.op("Cast", [images], { to: { i: DataType.FLOAT } }), g.scalar(255)]); // [B, S, S, C] in [0, 1]
  const clean = g.op("Transpose", [unit], { perm: { ints: [0, 3, 1, 2] } }); // [B, C, S, S]
  const corrupted = g.op("Transpose", [noisy], { perm: { ints: [0, 3, 1, 2] } }); // [B, C, S, S]
  const input = planted.cleanInput ? clean : corrupted;

  // DAE.encode: [0, 1] → [−1, 1], then the down stages to the code [B, widths[n−1], S/2^n, S/2^n].
  const x = g.op("Sub", [g.op("Mul", [input, g.scalar(2)]), g.scalar(1)]); // [B, C, S, S]
  const code = n.downStages(x, "dae.enc", ch, widths, c.resBlocks, c.padding);
  // DAE.forward: the up stages back to full resolution, then the correction added to x̃ (residual learning).
  const h = n.upStages(code, "dae.dec", widths, c.resBlocks, c.padding, widths[0]); // [B, widths[0], S, S]
  const correction = n.conv(n.relu(h), "dae.out", 3, widths[0], ch, c.padding); // [B, C, S, S]
  const reconstruction = planted.noResidual ? correction : g.op("Add", [input, correction]);

  const meanSq = (v: string) => g.op("ReduceMean", [g.op("Mul", [v, v])], { keepdims: { i: 0 } });
  // Every image has S·S·C values, so the task's mean of per-image means is the mean over every value.
  const loss = meanSq(g.op("Sub", [reconstruction, planted.noisyTarget ? corrupted : clean]));
  const noisyMse = meanSq(g.op("Sub", [corrupted, clean]));

  const params = n.params();
  const grads: Record<string, string> = {};
  if (o.gradients) {
    const dp = addGradients(g, loss, params, { planted: o.planted });
    for (const p of params) {
      grads[p] = `grad.${p}`;
      g.output(dp.get(p)!, grads[p], DataType.FLOAT, g.shapeOf(p)!);
    }
  }
  g.output(loss, "loss", DataType.FLOAT, []);
  g.output(noisyMse, "log.noisyMse", DataType.FLOAT, []);
  return {
    bytes: g.toBytes(),
    nodes: g.nodeCount(),
    params,
    names: { images, noisy, loss: "loss", logs: { noisyMse: "log.noisyMse" }, grads },
  };
}
