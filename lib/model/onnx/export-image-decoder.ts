// The image tokenizer's decoder (VQModel.decodeCodes: codebook lookup, ../decoder.ts decode, clip to [0, 1]) as an
// ONNX graph of its own, so a page can turn sampled codes into pixels with onnxruntime-web and no tfjs (issue 33).
// Built from ./conv-nodes.ts, the same nodes a training graph of the decoder would use; checked against the tfjs
// decoder in export-image-decoder.test.ts.
import type { VQModel } from "../vq-model";
import { gridSize } from "../vq-config";
import { ConvNodes, type ConvWeightSource, type PlantedConvBugs } from "./conv-nodes";
import { DataType, GraphBuilder } from "./graph";

export interface ImageDecoderGraph {
  bytes: Uint8Array;
  nodes: number;
  /** codes: int32 [B, h, w] (every code in [0, K); the caller draws an unwritten −1 as code 0, as decodeCodes does); images: float32 [B, S, S, C] in [0, 1]. */
  names: { codes: string; images: string };
  grid: number;
  imageSize: number;
  channels: number;
}

/** The codebook's ParamStore name for each discrete bottleneck (../vector-quantizer.ts, ../gumbel-quantizer.ts). */
export function codebookName(kind: VQModel["config"]["kind"]): string {
  if (kind === "vqvae") return "vq.embedding";
  if (kind === "dvae") return "gumbel.embedding";
  throw new Error(`a continuous autoencoder (kind "${kind}") has no codes to decode`);
}

/**
 * codes [B, h, w] → images [B, S, S, C]. `batch` fixes B (static shapes throughout, as a training graph needs);
 * left out, B is symbolic.
 */
export function exportImageDecoder(model: VQModel, planted: PlantedConvBugs = {}, batch?: number): ImageDecoderGraph {
  return buildImageDecoder(model.config, { kind: "values", params: model.params }, planted, batch);
}

export function buildImageDecoder(
  c: VQModel["config"],
  source: ConvWeightSource,
  planted: PlantedConvBugs = {},
  batch?: number,
): ImageDecoderGraph {
  const grid = gridSize(c);
  const g = new GraphBuilder("tessera-image-decoder");
  const n = new ConvNodes(g, source, planted);
  const b = batch ?? "B";
  const widths = c.decoderWidths;
  const deepest = widths[widths.length - 1];

  const codes = g.input("codes", DataType.INT32, [b, grid, grid]);
  // The codebook row of each code: tfjs multiplies a one-hot by the codebook, which is exactly this gather.
  const zQ = g.op("Gather", [n.w(codebookName(c.kind), [c.codebookSize, c.embedDim]), codes], { axis: { i: 0 } }); // [B, h, w, D]
  let x = g.op("Transpose", [zQ], { perm: { ints: [0, 3, 1, 2] } }); // [B, D, h, w]
  x = n.conv(x, "dec.in", 3, c.embedDim, deepest, c.padding); // [B, deepest, h, w]
  x = n.relu(n.upStages(x, "dec", widths, c.resBlocks, c.padding, c.outputWidth)); // [B, outputWidth, S, S]
  const y = n.conv(x, "dec.out", 3, c.outputWidth, c.channels, c.padding); // [B, C, S, S] on the [−1, 1] scale
  // decodeHead's (y + 1) / 2, then decode's clip to [0, 1].
  const unit = g.op("Div", [g.op("Add", [y, g.scalar(1)]), g.scalar(2)]);
  const clipped = g.op("Clip", [unit, g.scalar(0), g.scalar(1)]);
  const images = g.op("Transpose", [clipped], { perm: { ints: [0, 2, 3, 1] } }); // [B, S, S, C]

  const names = { codes, images: "images" };
  g.output(images, names.images, DataType.FLOAT, [b, c.imageSize, c.imageSize, c.channels]);
  return { bytes: g.toBytes(), nodes: g.nodeCount(), names, grid, imageSize: c.imageSize, channels: c.channels };
}
