// The transformer's one-token decode step (Transformer.extend / blockStep in ../attention.ts) as an ONNX graph, so
// ONNX Runtime runs it as ~90 native kernels with no per-op JavaScript dispatch: at batch 1 tfjs spends ~2 ms of
// dispatch per token on ~0.3 ms of arithmetic. The prefill stays in tfjs (once per image, one pass over the
// prompt) and hands its cache over (./decoder-session.ts).
//
// The KV cache lives in buffers the caller owns, with room for every position of one image ([B, H, hd, T_max] keys,
// transposed as in ../attention.ts, and [B, H, T_max, hd] values) and an additive mask [T_max] (0 where a position
// is filled, −1e9 where not). ORT reads them in place, so the cache is never copied; the graph returns only this
// token's k and v ([B, C] each) for the caller to write at position t. Attention to the new token itself is the
// extra score q·k_new next to the cached ones: the same softmax over the same t + 1 positions as blockStep.
import type { Transformer } from "../transformer";
import { DataType, GraphBuilder } from "./graph";

/** Deliberate deviations from the tfjs maths, for tests that prove the equality checks can tell (never set them in code). */
export interface PlantedBugs {
  noMask?: boolean;
  skipLn1?: boolean;
  scaleByHd?: boolean;
  tanhGelu?: boolean;
  positionOffByOne?: boolean;
}

export interface DecodeStepGraph {
  bytes: Uint8Array;
  nodes: number;
  /** Graph input/output names, by role. */
  names: { codes: string; position: string; mask: string; pastKT: string[]; pastV: string[]; logits: string; k: string[]; v: string[] };
}

/** A copy of a parameter's values (float32), by its ParamStore name. */
function values(model: Transformer, name: string): Float32Array {
  return Float32Array.from(model.params.get(name).dataSync() as Float32Array);
}

/**
 * Image-grid position embeddings row[⌊i/g⌋] + col[i mod g] for every i, as one [h·w, C] table. The float32 sum is
 * rounded exactly as tfjs's add in Transformer.embedImage, so the step sees the same input vector.
 */
function imagePositionTable(model: Transformer, shift = 0): Float32Array {
  const { imageGrid: g, nEmbd: c } = model.config;
  const row = values(model, "pos.row");
  const col = values(model, "pos.col");
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
  const w = (name: string, dims: number[]) => g.weight(name, values(model, name), dims);
  const linear = (x: string, name: string, nIn: number, nOut: number) => g.op("Gemm", [x, w(`${name}.w`, [nIn, nOut]), w(`${name}.b`, [nOut])]);
  // LayerNormalization (opset 17) over the last axis with the tfjs model's ε = 1e-5 (Ba et al. 2016).
  const layerNorm = (x: string, name: string) =>
    g.op("LayerNormalization", [x, w(`${name}.g`, [c]), w(`${name}.b`, [c])], { axis: { i: -1 }, epsilon: { f: 1e-5 } });
  const gelu = (x: string) =>
    planted.tanhGelu
      ? g.op("Mul", [g.op("Mul", [x, g.scalar(0.5)]), g.op("Add", [g.scalar(1), g.op("Tanh", [g.op("Mul", [x, g.scalar(Math.sqrt(2 / Math.PI))])])])])
      : // x·σ(1.702·x), the sigmoid form ../attention.ts uses (Hendrycks & Gimpel 2016, §2).
        g.op("Mul", [x, g.op("Sigmoid", [g.op("Mul", [x, g.scalar(1.702)])])]);

  const codes = g.input("codes", DataType.INT32, ["B"]);
  const position = g.input("position", DataType.INT32, [1]);
  const mask = g.input("mask", DataType.FLOAT, ["T"]);
  const pastKT: string[] = [];
  const pastV: string[] = [];
  const kOut: string[] = [];
  const vOut: string[] = [];

  // Embedding: the code's row of emb.image plus its grid position's row + column embedding.
  const posTable = imagePositionTable(model, planted.positionOffByOne ? 1 : 0);
  const emb = g.op("Gather", [w("emb.image", [k, c]), codes], { axis: { i: 0 } }); // [B, C]
  const posEmb = g.op("Gather", [g.weight("pos.image", posTable, [imageGrid * imageGrid, c]), position], { axis: { i: 0 } }); // [1, C]
  let x = g.op("Add", [emb, posEmb]); // [B, C]

  const scale = g.scalar(planted.scaleByHd ? 1 / hd : 1 / Math.sqrt(hd));
  for (let l = 0; l < nLayer; l++) {
    const name = `h.${l}`;
    pastKT.push(g.input(`past_kT.${l}`, DataType.FLOAT, ["B", nH, hd, "T"]));
    pastV.push(g.input(`past_v.${l}`, DataType.FLOAT, ["B", nH, "T", hd]));
    const h1 = planted.skipLn1 ? x : layerNorm(x, `${name}.ln1`);
    const [q, kNew, vNew] = g.opN("Split", [linear(h1, `${name}.qkv`, c, 3 * c), g.ints([c, c, c])], 3, { axis: { i: 1 } }); // [B, C] each
    kOut.push(kNew);
    vOut.push(vNew);
    const q4 = g.op("Reshape", [q, g.ints([0, nH, 1, hd])]); // [B, H, 1, hd]
    let past = g.op("MatMul", [q4, pastKT[l]]); // [B, H, 1, T]
    if (!planted.noMask) past = g.op("Add", [past, mask]); // unfilled positions → −1e9, i.e. weight exactly 0
    const self = g.op("MatMul", [q4, g.op("Reshape", [kNew, g.ints([0, nH, hd, 1])])]); // [B, H, 1, 1]
    // The tfjs step scales the raw scores by 1/√hd (Vaswani et al. 2017, eq. 1) after the matMul; so do we.
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
    const h = g.op("Add", [x, linear(merged, `${name}.proj`, c, c)]);
    const mlp = linear(gelu(linear(layerNorm(h, `${name}.ln2`), `${name}.fc`, c, 4 * c)), `${name}.out`, 4 * c, c);
    x = g.op("Add", [h, mlp]); // [B, C]
  }
  const logits = linear(layerNorm(x, "ln_f"), "head.image", c, k); // [B, K]

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
