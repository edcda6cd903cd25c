// One chunk of an eval's prompts, the step eval:gpt and eval:compose share: sample n pictures per prompt, decode them
// with the image tokenizer, find each picture's nearest real images and tally each prompt's group for variety. The
// caller scores each picture against its own prompt (picture i belongs to prompt ⌊i / n⌋).
import * as tf from "@tensorflow/tfjs";
import type { BatchSampler } from "../../lib/generate/engine";
import type { Transformer } from "../../lib/model/transformer";
import type { VQModel } from "../../lib/model/vq-model";
import type { RetrievalPool } from "./eval-context";
import { tallyGroups, type VarietyTally } from "./variety";

export interface ChunkScorer {
  sample: BatchSampler;
  gpt: Transformer;
  vq: VQModel;
  pool: RetrievalPool;
  nullText: number[];
}

/** Each picture's nearest real images (indices into the pool, nearest first), prompt-major. */
export async function sampleAndMatch(
  s: ChunkScorer,
  texts: number[][],
  options: Parameters<BatchSampler>[3],
  variety: VarietyTally,
): Promise<Int32Array[]> {
  const codes = await s.sample(s.gpt, texts, s.nullText, options);
  const q = tf.tidy(() => tf.reshape(s.vq.decodeCodes(codes), [codes.length, -1]) as tf.Tensor2D); // [P·n, S·S·3]
  try {
    const neighbours = s.pool.neighbours(q);
    tallyGroups(variety, q, neighbours, s.pool.labels, options.n);
    return neighbours;
  } finally {
    q.dispose();
  }
}
