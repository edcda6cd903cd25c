// The transformer's training loss (Transformer.loss in ../transformer.ts) as an ONNX graph built from the same block
// as the serving graphs (./layers.ts), and — through ./autodiff.ts — its gradient with respect to every parameter,
// so ONNX Runtime's native kernels run the whole training step. Parameters are graph inputs named as the
// ParamStore names them; dropout masks are per-step inputs (0/1 bytes) that the caller draws from its own seeded
// stream, so a resumed run draws the same ones again.
//
// The loss is DALL·E's (1·text + w·image)/(1 + w) with w = imageLossWeight (Ramesh et al. 2021, §2.2): every text
// position predicts the next one (<pad> positions predict their position's own pad id), every image code its
// successor, the first from the last text position.
import { imageTokens, type TransformerConfig } from "../transformer-config";
import { addGradients, type PlantedGradientBugs } from "./autodiff";
import { causalMask } from "./export-prefill";
import { DataType, GraphBuilder } from "./graph";
import { TransformerNodes, type BlockDropout } from "./layers";

export interface TrainingGraphOptions {
  /** Rows per batch (the graph's shapes are static). */
  batch: number;
  /** Add the dropout mask inputs (with config.dropout > 0). */
  dropout: boolean;
  /** Add the gradient outputs (a loss-only graph serves validation). */
  gradients: boolean;
  /** Also output each row's mean text and image loss ([B] each), e.g. for a validation set not a multiple of B. */
  perRow?: boolean;
  planted?: PlantedGradientBugs;
}

export interface TrainingGraph {
  bytes: Uint8Array;
  nodes: number;
  /** Every parameter the graph reads (ParamStore names = input names). */
  params: string[];
  /** Shapes of the mask inputs by name (uint8, 1 = keep), when the graph has dropout. */
  masks: Record<string, number[]>;
  names: {
    /** Token ids [B, T] with each <pad> already replaced by its position's own pad id (Transformer.padToPositional). */
    text: string;
    /** Image codes [B, h·w]. */
    codes: string;
    loss: string;
    textLoss: string;
    imageLoss: string;
    rowText?: string;
    rowImage?: string;
    /** d loss / d parameter, by parameter name. */
    grads: Record<string, string>;
  };
}

/** The graph's [B, L, C] masks are laid out [B·L, C], as the block's activations. */
function maskShapes(c: TransformerConfig, batch: number): Record<string, number[]> {
  const len = c.textLen + imageTokens(c) - 1;
  const out: Record<string, number[]> = { "drop.emb": [batch * len, c.nEmbd] };
  for (let l = 0; l < c.nLayer; l++) {
    out[`drop.h.${l}.att`] = [batch, c.nHead, len, len];
    out[`drop.h.${l}.attnOut`] = [batch * len, c.nEmbd];
    out[`drop.h.${l}.mlp`] = [batch * len, c.nEmbd];
  }
  return out;
}

export function exportTrainingGraph(c: TransformerConfig, o: TrainingGraphOptions): TrainingGraph {
  const { textLen: T, nEmbd: C, imageGrid: grid, imageVocab: K, textVocab } = c;
  const b = o.batch;
  const n = imageTokens(c);
  const len = T + n - 1;
  const g = new GraphBuilder("tessera-train");
  const t = new TransformerNodes(g, c, { kind: "inputs" });
  const masks = o.dropout && c.dropout > 0 ? maskShapes(c, b) : {};
  const mask = (name: string) => (name in masks ? g.input(name, DataType.UINT8, masks[name]) : undefined);

  const text = g.input("text", DataType.INT32, [b, T]);
  const codes = g.input("codes", DataType.INT32, [b, n]);
  // Embeddings: text ids + learned positions; image codes but the last + row and column positions (embedImage).
  const textEmb = g.op("Add", [g.op("Gather", [t.w("emb.text", [textVocab + T, C]), text], { axis: { i: 0 } }), t.w("pos.text", [T, C])]); // [B, T, C]
  const idx = Array.from({ length: n - 1 }, (_, i) => i);
  const imagePos = g.op("Add", [
    g.op("Gather", [t.w("pos.row", [grid, C]), g.ints(idx.map((i) => Math.floor(i / grid)))], { axis: { i: 0 } }),
    g.op("Gather", [t.w("pos.col", [grid, C]), g.ints(idx.map((i) => i % grid))], { axis: { i: 0 } }),
  ]); // [N-1, C]
  const inputs = g.op("Slice", [codes, g.ints([0]), g.ints([n - 1]), g.ints([1])]); // [B, N-1]
  const imageEmb = g.op("Add", [g.op("Gather", [t.w("emb.image", [K, C]), inputs], { axis: { i: 0 } }), imagePos]); // [B, N-1, C]
  let x = g.op("Reshape", [g.op("Concat", [textEmb, imageEmb], { axis: { i: 1 } }), g.ints([-1, C])]); // [B·L, C]
  x = t.dropout(x, mask("drop.emb"));

  const causal = g.weight("mask.causal", causalMask(len), [len, len]);
  for (let l = 0; l < c.nLayer; l++) {
    const drop: BlockDropout | undefined =
      o.dropout && c.dropout > 0
        ? { att: mask(`drop.h.${l}.att`)!, attnOut: mask(`drop.h.${l}.attnOut`)!, mlp: mask(`drop.h.${l}.mlp`)! }
        : undefined;
    x = t.sequenceBlock(x, `h.${l}`, len, causal, drop).y; // [B·L, C]
  }
  const h = g.op("Reshape", [t.layerNorm(x, "ln_f"), g.ints([b, len, C])]); // [B, L, C]

  // Mean negative log-likelihood per row of logits [R, V] against int32 targets [R]: −Σ log softmax ⊙ one-hot.
  const nll = (logits: string, targets: string, v: number) => {
    const oneHot = g.op(
      "Cast",
      [g.op("Equal", [g.op("Reshape", [targets, g.ints([-1, 1])]), g.int32s(Array.from({ length: v }, (_, i) => i))])],
      {
        to: { i: DataType.FLOAT },
      },
    ); // [R, V]
    const picked = g.op("ReduceSum", [g.op("Mul", [g.op("LogSoftmax", [logits], { axis: { i: 1 } }), oneHot]), g.ints([1])], {
      keepdims: { i: 0 },
    }); // [R]
    return g.op("Neg", [picked]);
  };
  const positions = (from: number, count: number) =>
    g.op("Reshape", [g.op("Slice", [h, g.ints([from]), g.ints([from + count]), g.ints([1])]), g.ints([-1, C])]); // [B·count, C]
  const textTargets = g.op("Slice", [text, g.ints([1]), g.ints([T]), g.ints([1])]); // [B, T-1]
  const textNll = nll(t.linear(positions(0, T - 1), "head.text", C, textVocab + T), textTargets, textVocab + T); // [B·(T-1)]
  const imageNll = nll(t.linear(positions(T - 1, n), "head.image", C, K), codes, K); // [B·N]
  const mean = (v: string) => g.op("ReduceMean", [v], { keepdims: { i: 0 } });
  const textLoss = mean(textNll);
  const imageLoss = mean(imageNll);
  const w = c.imageLossWeight;
  const loss = g.op("Div", [g.op("Add", [textLoss, g.op("Mul", [imageLoss, g.scalar(w)])]), g.scalar(1 + w)]);

  const params = t.params();
  const grads: Record<string, string> = {};
  if (o.gradients) {
    const d = addGradients(g, loss, params, { planted: o.planted });
    params.forEach((p) => (grads[p] = `grad.${p}`));
    params.forEach((p) => g.output(d.get(p)!, grads[p], DataType.FLOAT, g.shapeOf(p)!));
  }
  const names: TrainingGraph["names"] = { text, codes, loss: "loss", textLoss: "textLoss", imageLoss: "imageLoss", grads };
  g.output(loss, names.loss, DataType.FLOAT, []);
  g.output(textLoss, names.textLoss, DataType.FLOAT, []);
  g.output(imageLoss, names.imageLoss, DataType.FLOAT, []);
  if (o.perRow) {
    const rowMean = (v: string, per: number) =>
      g.op("ReduceMean", [g.op("Reshape", [v, g.ints([b, per])])], { axes: { ints: [1] }, keepdims: { i: 0 } });
    [names.rowText, names.rowImage] = ["rowText", "rowImage"];
    g.output(rowMean(textNll, T - 1), names.rowText, DataType.FLOAT, [b]);
    g.output(rowMean(imageNll, n), names.rowImage, DataType.FLOAT, [b]);
  }
  return { bytes: g.toBytes(), nodes: g.nodeCount(), params, masks, names };
}
