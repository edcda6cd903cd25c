// What eval:compose asks the transformer for each "label, style" prompt (issue 29: held-out label–style pairs).
// A mode is the prompt the sampler conditions on and, optionally, one composable guidance term beside it
// (lib/model/sample-loop.ts GuidanceTerm; Liu et al. 2022): the whole caption, the label alone, the caption led by
// its label ("compose:W", the label as a term of weight W), or the label led by the caption ("lead:W", the caption
// as a term of weight W).
import type { CaptionRecord } from "../../lib/data/manifest";
import { labelOf } from "./eval-sets";

export interface ComposeMode {
  name: string;
  kind: "caption" | "label" | "compose" | "lead";
  /** The term's weight (compose, lead); 0 otherwise. */
  weight: number;
}

/** Parses "caption,label,compose:0.5,lead:1"; a clear error for anything else. */
export function parseComposeModes(list: string): ComposeMode[] {
  const modes = list.split(",").map((name) => {
    const [kind, w, ...rest] = name.trim().split(":");
    if ((kind === "caption" || kind === "label") && w === undefined) return { name, kind, weight: 0 } as ComposeMode;
    const weight = Number(w);
    if ((kind === "compose" || kind === "lead") && !rest.length && w !== "" && Number.isFinite(weight))
      return { name, kind, weight } as ComposeMode;
    throw new Error(`--modes: "${name}" is not caption, label, compose:W or lead:W (W a number)`);
  });
  if (!modes.length) throw new Error("--modes: give at least one mode");
  return modes;
}

/** The prompt text and, where the mode has one, the guidance term's text, for one caption record. */
export function modeTexts(r: CaptionRecord, m: ComposeMode): { prompt: string; term?: { text: string; weight: number } } {
  const label = labelOf(r);
  switch (m.kind) {
    case "caption":
      return { prompt: r.caption };
    case "label":
      return { prompt: label };
    case "compose":
      return { prompt: r.caption, term: { text: label, weight: m.weight } };
    case "lead":
      return { prompt: label, term: { text: r.caption, weight: m.weight } };
  }
}
