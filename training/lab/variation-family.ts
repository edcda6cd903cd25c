// Do a VAE's variations still look like the emoji they came from (issue 31 part 4)? For each source (a val emoji)
// the VAE draws k variations as the detail page does (samples of q(z|x), spread × scale); two independent readers
// name the source and each variation — the label family of its nearest training image in pixels, and CLIP's
// zero-shot top label family — and we count how often a variation keeps its source's family. A blob that has lost
// the picture is named after whatever training image is nearest to a brown disc, not after its source.
import * as tf from "@tensorflow/tfjs";
import type { Shard } from "../../lib/data/shard";
import type { VAE } from "../../lib/model/vae";
import { embedImages, topMatches } from "../clip/zero-shot";
import { labelFamily } from "../gpt/augment";
import { flatten, labelOf, topK } from "../gpt/eval-sets";
import { shardOf, type QualityJudges } from "./sample-quality";

export interface VariationFamily {
  sources: number;
  /** Variations per source, and their spread (1 = the posterior's own σ, the page's default). */
  k: number;
  scale: number;
  /** Share of variations whose nearest training image has the source's nearest image's label family. */
  keepsFamilyPixels: number;
  /** The same with CLIP's top-1 label family as the reader. */
  keepsFamilyClip: number;
}

/** The families two readers give each image of `shard`: nearest training image's, and CLIP's top-1. */
function familiesOf(j: QualityJudges, shard: Shard): { pixels: string[]; clip: string[] } {
  const q = flatten(shard); // [N, D]
  const emb = embedImages(j.clip, shard); // [N, E] unit
  try {
    const near = topK(q, j.trainT, j.trainSq, 1);
    const top = topMatches(emb, j.labelEmbeddings, 1);
    return {
      pixels: near.map((n) => labelFamily(labelOf(j.trainRecords[n[0]]))),
      clip: top.map((t) => labelFamily(j.labels[t[0]])),
    };
  } finally {
    tf.dispose([q, emb]);
  }
}

export async function variationFamily(
  vae: VAE,
  val: Shard,
  j: QualityJudges,
  o: { sources: number; k: number; scale: number; seed: number },
): Promise<VariationFamily> {
  const n = Math.min(o.sources, val.count);
  const dims = val.height * val.width * val.channels;
  const sources: Shard = { ...val, count: n, data: val.data.subarray(0, n * dims) };
  const all = new Uint8Array(n * o.k * dims);
  for (let i = 0; i < n; i++) {
    const v = tf.tidy(() => {
      const x = tf.div(
        tf.tensor4d(sources.data.subarray(i * dims, (i + 1) * dims), [1, val.height, val.width, val.channels], "float32"),
        255,
      );
      return vae.variations(x as tf.Tensor4D, o.k, o.scale, o.seed + i); // [k, S, S, C]
    });
    try {
      all.set((await shardOf(v)).data, i * o.k * dims);
    } finally {
      v.dispose();
    }
  }
  const src = familiesOf(j, sources);
  const vars = familiesOf(j, { ...val, count: n * o.k, data: all });
  let pixels = 0,
    clip = 0;
  for (let i = 0; i < n * o.k; i++) {
    const s = Math.floor(i / o.k);
    if (vars.pixels[i] === src.pixels[s]) pixels++;
    if (vars.clip[i] === src.clip[s]) clip++;
  }
  return { sources: n, k: o.k, scale: o.scale, keepsFamilyPixels: pixels / (n * o.k), keepsFamilyClip: clip / (n * o.k) };
}
