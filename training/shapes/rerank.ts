// What reranking buys on the shapes set: for every caption `candidates` pictures are sampled at one setting; "off"
// grades the first `images` of them as sampled, "on" the `images` the server keeps (lib/generate/rerank.ts rerank:
// CLIP's score, mixed with the folder's exemplar vote when it has a bank, kept apart), scored on the pixels as its
// PNGs store them. Same candidates, equal n: the two rows differ only in which are kept.
import * as tf from "@tensorflow/tfjs";
import { sampleCandidates } from "../gpt/rerank-eval";
import type { CaptionRecord } from "../../lib/data/manifest";
import { scoreImage, type Score } from "../../lib/data/shapes/score";
import type { ModelBundle } from "../../lib/generate/model-bundle";
import { rerank } from "../../lib/generate/rerank";
import type { BatchSampler } from "../../lib/generate/engine";
import type { SampleOptions } from "../../lib/model/sample";
import { tensorToImages } from "../image-grid";
import { gradeReport, type GradeReport } from "./grade";

export async function shapesRerank(o: {
  bundle: ModelBundle;
  prompts: CaptionRecord[];
  setting: Omit<SampleOptions, "n" | "seed">;
  candidates: number;
  images: number;
  seed: number;
  /** The batch sampler (lib/generate/engine.ts). */
  sample: BatchSampler;
  heldOutPairs: readonly string[];
  onPrompt?: () => void;
}): Promise<{ off: GradeReport; on: GradeReport }> {
  const { transformer: gpt, imageTokenizer: vq, text: tok, clip } = o.bundle;
  if (!clip) throw new Error("shapesRerank: the model folder carries no CLIP");
  const off: Score[] = [];
  const on: Score[] = [];
  for (const [p, r] of o.prompts.entries()) {
    const { pixels, stored } = await sampleCandidates({
      gpt,
      vq,
      tok,
      caption: r.caption,
      setting: o.setting,
      candidates: o.candidates,
      seed: o.seed * 100_003 + p,
      sample: o.sample,
    });
    try {
      const [ranked, images] = await Promise.all([rerank(clip, r.caption, stored, o.images, o.bundle.exemplars), tensorToImages(pixels)]);
      const kept = ranked.kept.map((k) => k.index);
      for (let i = 0; i < o.images; i++) off.push(scoreImage(images[i], r.caption));
      for (const i of kept) on.push(scoreImage(images[i], r.caption));
    } finally {
      tf.dispose([pixels, stored]);
    }
    o.onPrompt?.();
  }
  return { off: gradeReport(off, o.heldOutPairs), on: gradeReport(on, o.heldOutPairs) };
}
