// The prompt's prefill (Transformer.prefill: the whole text sequence through `block` in ../attention.ts, causal, in
// one pass) as an ONNX graph. It returns the logits of the first image token and every layer's keys and values
// already padded to the decode step's cache layout ([B, H, hd, T_max] and [B, H, T_max, hd], zeros past the
// prompt), so the caller feeds them to ./export-decoder.ts's step as they come, with no copy. In tfjs this pass
// cost as much as all 63 ONNX decode steps of an image together.
import type { Transformer } from "../transformer";
import { imageTokens, type TransformerConfig } from "../transformer-config";
import { DataType, GraphBuilder } from "./graph";
import { TransformerNodes, type PlantedBugs } from "./layers";

export interface PrefillGraph {
  bytes: Uint8Array;
  nodes: number;
  /** Positions the returned cache has room for: the prompt and every image token but the last. */
  capacity: number;
  names: { text: string; logits: string; kT: string[]; v: string[] };
}

/** Token ids [rows · T] with each <pad> replaced by its position's own pad id (Transformer.padToPositional). */
export function positionalText(c: TransformerConfig, ids: Int32Array): Int32Array {
  const out = new Int32Array(ids.length);
  for (let i = 0; i < ids.length; i++) out[i] = ids[i] === c.padId ? c.textVocab + (i % c.textLen) : ids[i];
  return out;
}

/** Additive causal mask [T, T] as tfjs builds it: −1e9 where j > i (a later position), 0 elsewhere. */
export function causalMask(t: number): Float32Array {
  const m = new Float32Array(t * t);
  for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) m[i * t + j] = -1e9;
  return m;
}

export function exportPrefill(model: Transformer, planted: PlantedBugs = {}): PrefillGraph {
  const { nLayer, nHead: nH, nEmbd: c, imageVocab: k, textVocab, textLen: T } = model.config;
  const hd = c / nH;
  const capacity = T + imageTokens(model.config) - 1;
  const g = new GraphBuilder("tessera-prefill");
  const t = new TransformerNodes(g, model.config, { kind: "values", model }, planted);

  // Token ids with each <pad> already replaced by its position's own pad id (Transformer.padToPositional).
  const text = g.input("text", DataType.INT32, ["B", T]);
  const emb = g.op("Gather", [t.w("emb.text", [textVocab + T, c]), text], { axis: { i: 0 } }); // [B, T, C]
  const textPos = planted.positionOffByOne
    ? g.op("Slice", [g.op("Concat", [t.w("pos.text", [T, c]), t.w("pos.text", [T, c])], { axis: { i: 0 } }), g.ints([1]), g.ints([T + 1])])
    : t.w("pos.text", [T, c]);
  let x = g.op("Reshape", [g.op("Add", [emb, textPos]), g.ints([-1, c])]); // [B·T, C]

  const mask = planted.noMask ? null : g.weight("mask.causal", causalMask(T), [T, T]);
  const kT: string[] = [];
  const v: string[] = [];
  for (let l = 0; l < nLayer; l++) {
    const out = t.sequenceBlock(x, `h.${l}`, T, mask); // [B·T, C]
    x = out.y;
    kT.push(out.kT); // [B, H, hd, T]
    v.push(out.v); // [B, H, T, hd]
  }
  const last = g.op("Reshape", [
    g.op("Gather", [g.op("Reshape", [x, g.ints([-1, T, c])]), g.ints([T - 1])], { axis: { i: 1 } }),
    g.ints([-1, c]),
  ]); // [B, C]
  const logits = t.linear(t.layerNorm(last, "ln_f"), "head.image", c, k); // [B, K]

  const names = { text, logits: "logits", kT: kT.map((_, l) => `kT.${l}`), v: v.map((_, l) => `v.${l}`) };
  g.output(logits, names.logits, DataType.FLOAT, ["B", k]);
  // Zero-padded to the cache's capacity along the position axis: ONNX Pad's pads are [begin per axis…, end per axis…].
  const room = capacity - T;
  kT.forEach((o, l) =>
    g.output(g.op("Pad", [o, g.ints([0, 0, 0, 0, 0, 0, 0, room])]), names.kT[l], DataType.FLOAT, ["B", nH, hd, capacity]),
  );
  v.forEach((o, l) => g.output(g.op("Pad", [o, g.ints([0, 0, 0, 0, 0, 0, room, 0])]), names.v[l], DataType.FLOAT, ["B", nH, capacity, hd]));
  return { bytes: g.toBytes(), nodes: g.nodeCount(), capacity, names };
}
