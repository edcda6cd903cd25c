// The Create page's example prompts, chosen by measurement (issue 29: "the Create page's example prompts give
// pictures a person names correctly"). Each candidate prompt was served as the server serves it (several requests,
// each best `images` of `candidates` by CLIP) and every kept picture scored by its nearest real image; an example
// must have drawn its own emoji in at least `minExact` of its pictures. Among those, the most reliable come first,
// one per label family (four prompts of one family teach a visitor nothing new) and at most `perStyle` per style, so
// the examples also show the styles the model knows.
import { labelFamily } from "./augment";

export interface ExampleCandidate {
  caption: string;
  label: string;
  style: string;
  /** Share of the kept pictures whose nearest real image has exactly this label. */
  exact: number;
  /** Share whose nearest real image is of the label's family (skin tone stripped). */
  family: number;
  /** Mean CLIP score of the kept pictures. */
  clip: number;
}

export interface ExampleChoice {
  chosen: ExampleCandidate[];
  /** How many candidates met `minExact`. */
  eligible: number;
}

export function chooseExamples(
  candidates: readonly ExampleCandidate[],
  o: { count: number; minExact: number; perStyle: number },
): ExampleChoice {
  const eligible = candidates.filter((c) => c.exact >= o.minExact);
  const ranked = [...eligible].sort(
    (a, b) => b.exact - a.exact || b.family - a.family || b.clip - a.clip || (a.caption < b.caption ? -1 : 1),
  );
  const chosen: ExampleCandidate[] = [];
  const families = new Set<string>();
  const styles = new Map<string, number>();
  for (const c of ranked) {
    if (chosen.length === o.count) break;
    const family = labelFamily(c.label);
    if (families.has(family) || (styles.get(c.style) ?? 0) >= o.perStyle) continue;
    chosen.push(c);
    families.add(family);
    styles.set(c.style, (styles.get(c.style) ?? 0) + 1);
  }
  return { chosen, eligible: eligible.length };
}
