// Comparing two rerankers (or any two treatments) on the same prompts: per-prompt scores are paired, so the noise
// of a difference is that of the per-prompt differences, far smaller than two independent means' would suggest.
import { zeroScores, type Scores } from "./eval-sets";

export const MEASURES = ["exact1", "exact5", "family1", "family5"] as const;
export type Measure = (typeof MEASURES)[number];

/** Mean of per-prompt scores. */
export function meanScores(rows: readonly Scores[]): Scores {
  const m = zeroScores();
  for (const r of rows) for (const k of MEASURES) m[k] += r[k] / rows.length;
  return m;
}

/** Mean and standard error (sample standard deviation / √n) of the per-prompt difference b − a on measure `k`. */
export function pairedDifference(a: readonly Scores[], b: readonly Scores[], k: Measure): { diff: number; se: number } {
  if (a.length !== b.length || a.length === 0) throw new Error(`paired scores need the same prompts: ${a.length} vs ${b.length}`);
  const d = a.map((x, i) => b[i][k] - x[k]);
  const mean = d.reduce((s, v) => s + v, 0) / d.length;
  const variance = d.length > 1 ? d.reduce((s, v) => s + (v - mean) ** 2, 0) / (d.length - 1) : 0;
  return { diff: mean, se: Math.sqrt(variance / d.length) };
}

/** What comparePaired reads of an eval:rerank result: each set's per-prompt scores, served and first-sampled. */
export interface PairedRun {
  sets: Record<"heldout" | "train", { perPrompt: { captions: string[]; off: Scores[]; served: Scores[] } }>;
}

/** Per set and kind (served, off): A's and B's means and B − A with its paired standard error, per measure. */
export function comparePaired(a: PairedRun, b: PairedRun) {
  return Object.fromEntries(
    (["heldout", "train"] as const).map((set) => {
      const [x, y] = [a.sets[set].perPrompt, b.sets[set].perPrompt];
      if (x.captions.length !== y.captions.length || x.captions.some((c, i) => c !== y.captions[i]))
        throw new Error(`the ${set} prompts differ between the two runs: run both with the same --prompts and --seed`);
      const kinds = (["served", "off"] as const).map((kind) => [
        kind,
        {
          a: meanScores(x[kind]),
          b: meanScores(y[kind]),
          bMinusA: Object.fromEntries(MEASURES.map((m) => [m, pairedDifference(x[kind], y[kind], m)])),
        },
      ]);
      return [set, { prompts: x.captions.length, ...Object.fromEntries(kinds) }];
    }),
  );
}
