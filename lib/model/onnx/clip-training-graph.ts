// CLIP's training step (Clip.loss in ../clip.ts, as training/clip/task.ts calls it) as one ONNX graph: the conv
// image tower (../clip-image.ts) from ./conv-nodes.ts, the causal text tower read at its [EOS] (../clip-text.ts) from
// the transformer's own block (./layers.ts: the same pre-LN block, sigmoid GELU, ε = 1e-5), the learned temperature
// and the symmetric InfoNCE loss with its positive-pair targets (../clip-loss.ts), and — through ./autodiff.ts — its
// gradient with respect to every parameter, so ONNX Runtime's native kernels run the whole step. Parameters are
// graph inputs named as the ParamStore names them (clip.image.*, clip.text.*, clip.logitScale).
//
// What the task decides in JS stays outside: the batch's shifted pixels, the caption variant each row reads, and
// the positive-pair mask (captionPositives) are inputs. The [EOS] placement is in the graph, as withEos computes it.
// The text tower runs all T + 1 positions where the tfjs one trims to the batch's longest caption + 1: under the
// causal mask nothing after a row's [EOS] reaches it, and the softmax gives those positions exactly zero weight,
// so the loss and every gradient are the same.
import { clipEosId, clipTextPositions, type ClipConfig } from "../clip-config";
import { DEFAULT_TRANSFORMER_CONFIG } from "../transformer-config";
import { addGradients, type PlantedGradientBugs } from "./autodiff";
import { ConvNodes } from "./conv-nodes";
import { causalMask } from "./export-prefill";
import { DataType, GraphBuilder } from "./graph";
import { TransformerNodes } from "./layers";

/** Deliberate deviations from the tfjs loss, for tests that prove the equality checks can tell (never set them in code). */
export interface PlantedClipBugs {
  /** Ignore the positive-pair mask: caption i matches image i only (the paper's arange labels). */
  noPositives?: boolean;
  /** Only the image→text cross-entropy, not the mean of both directions. */
  oneDirection?: boolean;
  /** The temperature as a constant: sg[logScale], so it never learns. */
  detachTemperature?: boolean;
  /** Read the text features at the caption's last token instead of the [EOS] slot after it. */
  eosOffByOne?: boolean;
  /** Hard negatives in the text→image direction too (each a text with no image: a zero target, a mean over 2B). */
  negativesInTextToImage?: boolean;
}

export interface ClipTrainingGraphOptions {
  /** Rows per batch (the graph's shapes are static). */
  batch: number;
  /** Add the gradient outputs (a loss-only graph serves checks). */
  gradients: boolean;
  /** One extra caption per row read as a hard negative (the `negatives` input; ../clip-loss.ts's extra texts). */
  negatives?: boolean;
  planted?: PlantedGradientBugs & PlantedClipBugs;
}

export interface ClipTrainingGraph {
  bytes: Uint8Array;
  nodes: number;
  /** Every parameter the graph reads (ParamStore names = input names). */
  params: string[];
  names: {
    /** The batch's pixels, uint8 [B, S, S, C] (0..255, as the task's planned batch holds them). */
    images: string;
    /** Caption ids int32 [B, T], right-padded with padId (no [EOS]: the graph appends it). */
    text: string;
    /** With `negatives`: the rows' hard-negative captions int32 [B, T], read as texts B..2B − 1. */
    negatives: string | null;
    /** positives float32 [B, Bt] (Bt = B, or 2B with negatives): 1 where caption j describes image i (the diagonal included). */
    positives: string;
    loss: string;
    /** Output names of the logged scalars, by the names the task logs them under (i2t, t2i, scale). */
    logs: Record<string, string>;
    /** d loss / d parameter, by parameter name. */
    grads: Record<string, string>;
  };
}

export function exportClipTrainingGraph(c: ClipConfig, o: ClipTrainingGraphOptions): ClipTrainingGraph {
  const b = o.batch;
  const bt = o.negatives ? 2 * b : b; // texts: the rows' captions, then their hard negatives
  const planted = o.planted ?? {};
  const { imageSize: s, channels: ch, textLen: T, nEmbd: C, embedDim: D } = c;
  const L = clipTextPositions(c);
  const g = new GraphBuilder("tessera-clip-train");
  const conv = new ConvNodes(g, { kind: "inputs" });
  // The block builder reads only nEmbd, nHead and dropout from a transformer config (CLIP trains without dropout).
  const t = new TransformerNodes(
    g,
    { ...DEFAULT_TRANSFORMER_CONFIG, nEmbd: C, nHead: c.nHead, nLayer: c.nLayer, dropout: 0 },
    { kind: "inputs" },
  );

  const images = g.input("images", DataType.UINT8, [b, s, s, ch]);
  const captions = g.input("text", DataType.INT32, [b, T]);
  const negatives = o.negatives ? g.input("negatives", DataType.INT32, [b, T]) : null;
  const text = negatives ? g.op("Concat", [captions, negatives], { axis: { i: 0 } }) : captions; // [Bt, T]
  const positives = g.input("positives", DataType.FLOAT, [b, bt]);

  // Image tower (imageFeatures): [0, 1] → [−1, 1], per stage space-to-depth, mix conv, residual blocks; then the
  // mean of relu over the grid, LayerNorm and the projection W_i.
  const unit = g.op("Div", [g.op("Cast", [images], { to: { i: DataType.FLOAT } }), g.scalar(255)]); // [B, S, S, C] in [0, 1]
  let h = g.op("Transpose", [unit], { perm: { ints: [0, 3, 1, 2] } }); // [B, C, S, S]
  h = g.op("Sub", [g.op("Mul", [h, g.scalar(2)]), g.scalar(1)]);
  let inCh = ch;
  c.imageWidths.forEach((width, i) => {
    h = conv.conv(conv.spaceToDepth(h), `clip.image.s${i}.mix`, i === 0 ? 3 : 1, 4 * inCh, width, "zero"); // [B, width, H/2, W/2]
    for (let j = 0; j < c.resBlocks; j++) h = conv.resBlock(h, `clip.image.s${i}.res${j}`, width, "zero");
    inCh = width;
  });
  const pooled = g.op("ReduceMean", [conv.relu(h)], { axes: { ints: [2, 3] }, keepdims: { i: 0 } }); // [B, C_last]
  const lnPost = g.op("LayerNormalization", [pooled, conv.w("clip.image.ln_post.g", [inCh]), conv.w("clip.image.ln_post.b", [inCh])], {
    axis: { i: -1 },
    epsilon: { f: 1e-5 },
  });
  const imageFeatures = g.op("MatMul", [lnPost, conv.w("clip.image.proj.w", [inCh, D])]); // [B, D]

  // Text tower (withEos + textFeatures). A row's [EOS] goes at its number of non-pad ids (captions are right-padded),
  // in a T + 1 long sequence whose extra column is a pad.
  const isPad = g.op("Cast", [g.op("Equal", [text, g.int32s([c.padId])])], { to: { i: DataType.FLOAT } }); // [Bt, T]
  let len = g.op("ReduceSum", [g.op("Sub", [g.scalar(1), isPad]), g.ints([1])], { keepdims: { i: 1 } }); // [Bt, 1]
  if (planted.eosOffByOne) len = g.op("Sub", [len, g.scalar(1)]);
  // Slots 0..T as floats, to compare with each row's length (small integers: exact in float32).
  const slots = g.weight(
    "clip.text.slots",
    Float32Array.from({ length: L }, (_, i) => i),
    [L],
  ); // [L]
  const atEos = g.op("Equal", [slots, len]); // [Bt, L]
  const padColumn = g.op("Reshape", [g.int32s(new Array<number>(bt).fill(c.padId)), g.ints([bt, 1])]); // [Bt, 1]
  const padded = g.op("Concat", [text, padColumn], { axis: { i: 1 } }); // [Bt, L]
  const ids = g.op("Where", [atEos, g.int32s([clipEosId(c)]), padded]); // [Bt, L]
  const tokens = g.op("Gather", [t.w("clip.text.emb", [c.textVocab + 1, C]), ids], { axis: { i: 0 } }); // [Bt, L, C]
  let x = g.op("Reshape", [g.op("Add", [tokens, t.w("clip.text.pos", [L, C])]), g.ints([-1, C])]); // [Bt·L, C]
  const causal = g.weight("clip.text.causal", causalMask(L), [L, L]);
  for (let l = 0; l < c.nLayer; l++) x = t.sequenceBlock(x, `clip.text.h.${l}`, L, causal).y; // [Bt·L, C]
  // The [EOS] position's features as textFeatures picks them: a masked sum over positions, then ln_final and W_t.
  const eosMask = g.op("Reshape", [g.op("Cast", [atEos], { to: { i: DataType.FLOAT } }), g.ints([bt, L, 1])]); // [Bt, L, 1]
  const hSeq = g.op("Reshape", [x, g.ints([bt, L, C])]); // [Bt, L, C]
  const atEosFeatures = g.op("ReduceSum", [g.op("Mul", [hSeq, eosMask]), g.ints([1])], { keepdims: { i: 0 } }); // [Bt, C]
  const textFeatures = g.op("MatMul", [t.layerNorm(atEosFeatures, "clip.text.ln_final"), t.w("clip.text.proj.w", [C, D])]); // [Bt, D]

  // Loss (clip-loss.ts): unit embeddings, logits scaled by 1/τ = min(exp(logScale), max), symmetric InfoNCE.
  const unitRows = (v: string) =>
    g.op("Div", [
      v,
      g.op("Sqrt", [g.op("Add", [g.op("ReduceSum", [g.op("Mul", [v, v]), g.ints([1])], { keepdims: { i: 1 } }), g.scalar(1e-12)])]),
    ]); // [B, D]
  let logScale = g.param("clip.logitScale", []);
  if (planted.detachTemperature) logScale = g.stopGradient(logScale);
  const e = g.op("Exp", [logScale]); // []
  const max = g.scalar(c.maxLogitScale);
  // min(e, max) as Where (which has a VJP rule; Min has none): the gradient reaches e where e ≤ max, as
  // tf.minimum's does (ties included), and nothing above the cap.
  const scale = g.op("Where", [g.op("Greater", [e, max]), max, e]); // []
  const similarity = g.op("MatMul", [unitRows(imageFeatures), g.op("Transpose", [unitRows(textFeatures)], { perm: { ints: [1, 0] } })]); // [B images, Bt texts]
  const logits = g.op("Mul", [similarity, scale]); // [B, Bt]

  const p = planted.noPositives ? g.weight("clip.eye", eye(b, bt), [b, bt]) : positives;
  // Targets: each row (column) of the 0/1 mask scaled to sum to 1; one without a positive stays zero.
  const distribution = (m: string, axis: number) => {
    const count = g.op("ReduceSum", [m, g.ints([axis])], { keepdims: { i: 1 } });
    // max(count, 1) as rowDistribution's tf.maximum: counts are whole numbers, so below 1 means 0.
    return g.op("Div", [m, g.op("Where", [g.op("Less", [count, g.scalar(1)]), g.scalar(1), count])]);
  };
  // −mean over rows (axis 1: image→text) or columns (axis 0: text→image) of Σ target ⊙ log softmax.
  const crossEntropy = (l: string, m: string, axis: number) => {
    const logProbs = g.op("LogSoftmax", [l], { axis: { i: axis } });
    const perItem = g.op("ReduceSum", [g.op("Mul", [logProbs, distribution(m, axis)]), g.ints([axis])], { keepdims: { i: 0 } });
    return g.op("Neg", [g.op("ReduceMean", [perItem], { keepdims: { i: 0 } })]);
  };
  // Each image against all Bt texts; each of the first B texts (those that describe an image) against the images.
  const firstB = (m: string) =>
    bt === b || planted.negativesInTextToImage ? m : g.op("Slice", [m, g.ints([0]), g.ints([b]), g.ints([1])]); // [B, B]
  const i2t = crossEntropy(logits, p, 1);
  const t2i = crossEntropy(firstB(logits), firstB(p), 0);
  const loss = g.op("Mul", [g.op("Add", [i2t, planted.oneDirection ? i2t : t2i]), g.scalar(0.5)]); // (i2t + t2i) / 2

  const params = [...conv.params(), ...t.params(), "clip.logitScale"];
  const grads: Record<string, string> = {};
  if (o.gradients) {
    const d = addGradients(g, loss, params, { planted: o.planted });
    for (const name of params) {
      grads[name] = `grad.${name}`;
      g.output(d.get(name)!, grads[name], DataType.FLOAT, g.shapeOf(name)!);
    }
  }
  g.output(loss, "loss", DataType.FLOAT, []);
  const logs = { i2t: "log.i2t", t2i: "log.t2i", scale: "log.scale" };
  g.output(i2t, logs.i2t, DataType.FLOAT, []);
  g.output(t2i, logs.t2i, DataType.FLOAT, []);
  g.output(scale, logs.scale, DataType.FLOAT, []);
  return {
    bytes: g.toBytes(),
    nodes: g.nodeCount(),
    params,
    names: { images, text: captions, negatives, positives, loss: "loss", logs, grads },
  };
}

/** The n×m identity (ones on the leading diagonal), row-major. */
function eye(n: number, m: number): Float32Array {
  const out = new Float32Array(n * m);
  for (let i = 0; i < n; i++) out[i * m + i] = 1;
  return out;
}
