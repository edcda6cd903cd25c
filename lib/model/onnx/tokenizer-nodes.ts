// The image tokenizer's encoder and decoder (../encoder.ts, ../decoder.ts) as ONNX nodes, built from ./conv-nodes.ts:
// what a training graph of any tokenizer around them (VQ-VAE, dVAE, the "ae" baseline, a VQ-GAN's generator) puts on
// either side of its bottleneck. Activations are NCHW, as ConvNodes keeps them; parameters are read by their
// ParamStore names (enc.*, dec.*).
import type { VQConfig } from "../vq-config";
import type { ConvNodes } from "./conv-nodes";

/** encode of ../encoder.ts: images [B, C, S, S] in [0, 1] → encoder output [B, outDim, S/f, S/f]. */
export function encoderNodes(n: ConvNodes, c: VQConfig, images: string, outDim: number): string {
  const g = n.g;
  const x = g.op("Sub", [g.op("Mul", [images, g.scalar(2)]), g.scalar(1)]); // [0, 1] → [−1, 1], [B, C, S, S]
  const h = n.downStages(x, "enc", c.channels, c.encoderWidths, c.resBlocks, c.padding); // [B, width, S/f, S/f]
  const last = c.encoderWidths[c.encoderWidths.length - 1];
  return n.conv(n.relu(h), "enc.out", 1, last, outDim); // [B, outDim, S/f, S/f]
}

/** decodeFeatures of ../decoder.ts: zQ [B, D, h, w] → activations [B, outputWidth, S, S] before the last layer. */
export function decoderFeatureNodes(n: ConvNodes, c: VQConfig, zQ: string): string {
  const widths = c.decoderWidths;
  const deepest = widths[widths.length - 1];
  const x = n.conv(zQ, "dec.in", 3, c.embedDim, deepest, c.padding); // [B, deepest, h, w]
  return n.relu(n.upStages(x, "dec", widths, c.resBlocks, c.padding, c.outputWidth)); // [B, outputWidth, S, S]
}

/** decodeHead of ../decoder.ts: features → images [B, C, S, S] in roughly [0, 1], unclipped (the loss sees the raw values). */
export function decoderHeadNodes(n: ConvNodes, c: VQConfig, features: string): string {
  const g = n.g;
  const y = n.conv(features, "dec.out", 3, c.outputWidth, c.channels, c.padding); // [B, C, S, S] on the [−1, 1] scale
  return g.op("Div", [g.op("Add", [y, g.scalar(1)]), g.scalar(2)]);
}
