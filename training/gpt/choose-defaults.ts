// The sampling defaults eval:gpt recommends (issue 29, part 3). Accuracy alone tends to favour a cool temperature,
// whose pictures for one prompt are often one picture n times; so the rule takes the most accurate setting among
// those whose pictures are seldom near-copies (training/gpt/variety.ts), and the most varied when none is.
import type { Scores } from "./eval-sets";
import type { RerankRow } from "./rerank-eval";
import type { SamplingDefaults } from "./sampling-defaults";
import { pooled, type Variety } from "./variety";

export interface Candidate {
  /** The eval's accuracy score (higher is better). */
  accuracy: number;
  /** Variety pooled over the prompt sets. */
  variety: Variety;
}

export interface Choice<T> {
  chosen: T;
  /** Whether the chosen setting is within the near-copy threshold (false: none was, the most varied is chosen). */
  qualified: boolean;
  /** The most accurate setting regardless of variety, for comparison. */
  mostAccurate: T;
  reason: string;
}

/** "Most varied": fewer near-copy prompts first, then pictures further apart, then accuracy. */
const moreVaried = (a: Candidate, b: Candidate) =>
  a.variety.nearCopyShare - b.variety.nearCopyShare || b.variety.pairDistance - a.variety.pairDistance || b.accuracy - a.accuracy;

/**
 * The defaults' rule: the most accurate setting whose near-copy share is ≤ `maxNearCopies`; when none is, the most
 * varied (moreVaried). Ties keep sweep order. `name` labels a setting in the reason.
 */
export function chooseSetting<T extends Candidate>(rows: readonly T[], maxNearCopies: number, name: (r: T) => string): Choice<T> {
  if (!rows.length) throw new Error("no sampling settings to choose from");
  const firstBest = (xs: readonly T[], better: (a: T, b: T) => number) => xs.reduce((best, r) => (better(r, best) < 0 ? r : best));
  const byAccuracy = (a: T, b: T) => b.accuracy - a.accuracy;
  const mostAccurate = firstBest(rows, byAccuracy);
  const ok = rows.filter((r) => r.variety.nearCopyShare <= maxNearCopies);
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
  const about = (r: T) =>
    `${name(r)} (accuracy ${pct(r.accuracy)}, near-copies ${pct(r.variety.nearCopyShare)}, pair distance ${r.variety.pairDistance.toFixed(1)} levels, ${r.variety.distinctLabels.toFixed(2)} distinct labels)`;
  const versus = (chosen: T) =>
    chosen === mostAccurate ? "; it is also the most accurate" : `; the most accurate, ${about(mostAccurate)}, is passed over for variety`;
  if (ok.length) {
    const chosen = firstBest(ok, byAccuracy);
    const reason = `${about(chosen)}: the most accurate of the ${ok.length} of ${rows.length} settings with near-copy share ≤ ${pct(maxNearCopies)}${versus(chosen)}`;
    return { chosen, qualified: true, mostAccurate, reason };
  }
  const chosen = firstBest(rows, moreVaried);
  const reason = `${about(chosen)}: no setting has near-copy share ≤ ${pct(maxNearCopies)}, so the most varied (fewest near-copies, then largest pair distance)${versus(chosen)}`;
  return { chosen, qualified: false, mostAccurate, reason };
}

/** One setting of eval-gpt.ts's sweep, as it measures it. */
export interface SweepRow {
  guidance: number;
  temperature: number;
  topK: number | null;
  heldout: Scores;
  train: Scores;
  variety: Record<"heldout" | "train", Variety>;
}

export const settingName = (r: Pick<SweepRow, "guidance" | "temperature" | "topK">) =>
  `s ${r.guidance} T ${r.temperature}${r.topK ? ` k ${r.topK}` : ""}`;

/** The eval's accuracy: in-distribution exact@1 and held-out family@1, equally weighted. */
export const accuracyOf = (r: SweepRow) => (r.train.exact1 + r.heldout.family1) / 2;

export interface SweepChoice<R> extends Choice<R> {
  /** The chosen setting's accuracy and its variety pooled over both prompt sets. */
  accuracy: number;
  variety: Variety;
}

/** chooseSetting over a sweep: each row rated by accuracyOf, its variety pooled over the held-out and train sets. */
export function chooseDefaults<R extends SweepRow>(sweep: readonly R[], maxNearCopies: number): SweepChoice<R> {
  const rated = sweep.map((row) => ({ row, accuracy: accuracyOf(row), variety: pooled([row.variety.heldout, row.variety.train]) }));
  const c = chooseSetting(rated, maxNearCopies, (r) => settingName(r.row));
  return { ...c, chosen: c.chosen.row, mostAccurate: c.mostAccurate.row, accuracy: c.chosen.accuracy, variety: c.chosen.variety };
}

/**
 * chooseDefaults judged on the served pictures: each setting rated by what CLIP kept of its candidates (accuracy
 * and variety of the kept n, `reranks[i]` for `sweep[i]`); the choice names the sweep's own rows.
 */
export function chooseOnServed<R extends SweepRow>(
  sweep: readonly R[],
  reranks: readonly { heldout: RerankRow; train: RerankRow }[],
  maxNearCopies: number,
): SweepChoice<R> & { served: R[] } {
  if (reranks.length !== sweep.length) throw new Error(`${reranks.length} reranked settings for a sweep of ${sweep.length}`);
  const served = sweep.map((r, i) => ({
    ...r,
    heldout: reranks[i].heldout.on,
    train: reranks[i].train.on,
    variety: { heldout: reranks[i].heldout.varietyOn, train: reranks[i].train.varietyOn },
  }));
  const c = chooseDefaults(served, maxNearCopies);
  const own = (row: R) => sweep[served.indexOf(row)];
  return { ...c, chosen: own(c.chosen), mostAccurate: own(c.mostAccurate), reason: `served pictures: ${c.reason}`, served };
}

/**
 * The manifest's `extra.sampling` for a choice: the setting, and what was measured at it (reranked too, given a
 * CLIP, whose near-copy share over the threshold is noted in the reason).
 */
export function defaultsFor(
  choice: SweepChoice<SweepRow>,
  o: {
    images: number;
    maxNearCopies: number;
    rerank: { candidates: number; heldout: RerankRow; train: RerankRow } | null;
    /** Which pictures the choice judged: the first `images` as sampled (default) or the served ones. */
    judgedOn?: "first" | "served";
  },
): Required<SamplingDefaults> {
  const { guidance, temperature, topK } = choice.chosen;
  const reranked = o.rerank && { candidates: o.rerank.candidates, variety: pooled([o.rerank.heldout.varietyOn, o.rerank.train.varietyOn]) };
  // The server keeps the n of `candidates` that CLIP scores best, kept apart (lib/generate/rerank.ts); when too few
  // candidates are far enough apart it fills up by score, which can bring near-copies back (CLIP favours the
  // likeliest picture): the reason says so when the choice itself was made on pictures as sampled.
  const share = reranked?.variety.nearCopyShare ?? 0;
  const caveat =
    reranked && share > o.maxNearCopies
      ? `; but reranked (best ${o.images} of ${reranked.candidates} by CLIP, kept apart) its near-copy share is ${(100 * share).toFixed(1)} %`
      : "";
  return {
    guidance,
    temperature,
    topK,
    measured: {
      accuracy: choice.accuracy,
      images: o.images,
      variety: choice.variety,
      ...(reranked ? { reranked } : {}),
      maxNearCopies: o.maxNearCopies,
      judgedOn: o.judgedOn ?? "first",
      qualified: choice.qualified,
      reason: choice.reason + caveat,
    },
  };
}
