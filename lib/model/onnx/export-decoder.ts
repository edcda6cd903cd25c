// The transformer's one-token decode step (Transformer.extend / blockStep in ../attention.ts) as an ONNX graph, so
// ONNX Runtime runs it as ~90 native kernels with no per-op JavaScript dispatch: at batch 1 tfjs spends ~2 ms of
// dispatch per token on ~0.3 ms of arithmetic. The prompt's prefill is its own graph (./export-prefill.ts).
//
// The KV cache lives in buffers the caller owns, with room for every position of one image ([B, H, hd, T_max] keys,
// transposed as in ../attention.ts, and [B, H, T_max, hd] values) and an additive mask [T_max] (0 where a position
// is filled, −1e9 where not). ORT reads them in place, so the cache is never copied; the graph returns only this
// token's k and v ([B, C] each) for the caller to write at position t. Attention to the new token itself is the
// extra score q·k_new next to the cached ones: the same softmax over the same t + 1 positions as blockStep.
import type { Transformer } from "../transformer";
import { DataType, GraphBuilder } from "./graph";
import { paramValues, TransformerNodes, type PlantedBugs } from "./layers";

export type { PlantedBugs } from "./layers";

export interface DecodeStepGraph {
  bytes: Uint8Array;
  nodes: number;
  /** Graph input/output names, by role. */
  names: { codes: string; position: string; mask: string; pastKT: string[]; pastV: string[]; logits: string; k: string[]; v: string[] };
}

/**
 * Image-grid position embeddings row[⌊i/g⌋] + col[i mod g] for every i, as one [h·w, C] table. The float32 sum is
 * rounded exactly as tfjs's add in Transformer.embedImage, so the step sees the same input vector.
 */
function imagePositionTable(model: Transformer, shift = 0): Float32Array {
  const { imageGrid: g, nEmbd: c } = model.config;
  const row = paramValues(model, "pos.row");
  const col = paramValues(model, "pos.col");
  const table = new Float32Array(g * g * c);
  for (let i = 0; i < g * g; i++) {
    const p = (i + shift) % (g * g);
    for (let j = 0; j < c; j++) table[i * c + j] = row[Math.floor(p / g) * c + j] + col[(p % g) * c + j];
  }
  return table;
}

export function exportDecodeStep(model: Transformer, planted: PlantedBugs = {}): DecodeStepGraph {
  const { nLayer, nHead: nH, nEmbd: c, imageVocab: k, imageGrid } = model.config;
  const hd = c / nH;
  const g = new GraphBuilder("tessera-decode-step");
  const t = new TransformerNodes(g, model.config, { kind: "values", model }, planted);

  const codes = g.input("codes", DataType.INT32, ["B"]);
  const position = g.input("position", DataType.INT32, [1]);
  const mask = g.input("mask", DataType.FLOAT, ["T"]);
  const pastKT: string[] = [];
  const pastV: string[] = [];
  const kOut: string[] = [];
  const vOut: string[] = [];

  // Embedding: the code's row of emb.image plus its grid position's row + column embedding.
  const posTable = imagePositionTable(model, planted.positionOffByOne ? 1 : 0);
  const emb = g.op("Gather", [t.w("emb.image", [k, c]), codes], { axis: { i: 0 } }); // [B, C]
  const posEmb = g.op("Gather", [g.weight("pos.image", posTable, [imageGrid * imageGrid, c]), position], { axis: { i: 0 } }); // [1, C]
  let x = g.op("Add", [emb, posEmb]); // [B, C]

  const scale = t.scale();
  for (let l = 0; l < nLayer; l++) {
    const name = `h.${l}`;
    pastKT.push(g.input(`past_kT.${l}`, DataType.FLOAT, ["B", nH, hd, "T"]));
    pastV.push(g.input(`past_v.${l}`, DataType.FLOAT, ["B", nH, "T", hd]));
    const [q, kNew, vNew] = t.qkv(x, name); // [B, C] each
    kOut.push(kNew);
    vOut.push(vNew);
    const q4 = g.op("Reshape", [q, g.ints([0, nH, 1, hd])]); // [B, H, 1, hd]
    let past = g.op("MatMul", [q4, pastKT[l]]); // [B, H, 1, T]
    if (!planted.noMask) past = g.op("Add", [past, mask]); // unfilled positions → −1e9, i.e. weight exactly 0
    // q·k_new per head as Mul + ReduceSum: a batched MatMul of B·H 1×1 products costs ~2× as much at batch 16+.
    const self = g.op("ReduceSum", [g.op("Reshape", [g.op("Mul", [q, kNew]), g.ints([0, nH, 1, hd])]), g.ints([3])]); // [B, H, 1, 1]
    // The tfjs step scales the raw scores by 1/√hd after the matMul; so do we.
    const scores = g.op("Mul", [g.op("Concat", [past, self], { axis: { i: 3 } }), scale]); // [B, H, 1, T+1]
    const att = g.op("Softmax", [scores], { axis: { i: -1 } }); // [B, H, 1, T+1]
    const attPast = g.op("Slice", [att, g.ints([0]), g.ints([-1]), g.ints([3])]); // [B, H, 1, T]
    const attSelf = g.op("Slice", [att, g.ints([-1]), g.ints([Number.MAX_SAFE_INTEGER]), g.ints([3])]); // [B, H, 1, 1]
    const ctx = g.op("Add", [
      g.op("MatMul", [attPast, pastV[l]]), // [B, H, 1, hd]
      g.op("Mul", [attSelf, g.op("Reshape", [vNew, g.ints([0, nH, 1, hd])])]), // [B, H, 1, hd]
    ]);
    // With one position, [B, H, 1, hd] is laid out as [B, C] (heads side by side, as the tfjs reshape).
    const merged = g.op("Reshape", [ctx, g.ints([0, c])]); // [B, C]
    x = t.finishBlock(x, merged, name); // [B, C]
  }
  const logits = t.linear(t.layerNorm(x, "ln_f"), "head.image", c, k); // [B, K]

  const names = {
    codes,
    position,
    mask,
    pastKT,
    pastV,
    logits: "logits",
    k: kOut.map((_, l) => `k.${l}`),
    v: vOut.map((_, l) => `v.${l}`),
  };
  g.output(logits, names.logits, DataType.FLOAT, ["B", k]);
  kOut.forEach((o, l) => g.output(o, names.k[l], DataType.FLOAT, ["B", c]));
  vOut.forEach((o, l) => g.output(o, names.v[l], DataType.FLOAT, ["B", c]));
  return { bytes: g.toBytes(), nodes: g.nodeCount(), names };
}
