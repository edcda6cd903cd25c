// eval:compose's modes: which text is the prompt and which the guidance term, and bad modes refused clearly.
import { describe, expect, it } from "vitest";
import type { CaptionRecord } from "../../lib/data/manifest";
import { modeTexts, parseComposeModes } from "./compose-modes";

const rocket = { split: "test", index: 0, caption: "rocket, openmoji", meta: { label: "rocket", style: "openmoji" } } as CaptionRecord;

describe("eval:compose modes", () => {
  it("puts the caption or the label in the prompt, and the other in the term with its weight", () => {
    const [caption, label, compose, lead] = parseComposeModes("caption,label,compose:0.5,lead:1");
    expect(modeTexts(rocket, caption)).toEqual({ prompt: "rocket, openmoji" });
    expect(modeTexts(rocket, label)).toEqual({ prompt: "rocket" });
    expect(modeTexts(rocket, compose)).toEqual({ prompt: "rocket, openmoji", term: { text: "rocket", weight: 0.5 } });
    expect(modeTexts(rocket, lead)).toEqual({ prompt: "rocket", term: { text: "rocket, openmoji", weight: 1 } });
    expect(parseComposeModes("lead:-0.25")[0].weight).toBe(-0.25);
  });

  it("refuses a mode it does not know, a missing or non-numeric weight, and a weight where none belongs", () => {
    for (const bad of ["style", "compose", "compose:", "lead:x", "lead:1:2", "caption:1", ""])
      expect(() => parseComposeModes(bad)).toThrow(/is not caption, label, compose:W or lead:W/);
  });
});
