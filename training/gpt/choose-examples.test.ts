import { describe, expect, it } from "vitest";
import { chooseExamples, type ExampleCandidate } from "./choose-examples";

const c = (caption: string, label: string, style: string, exact: number, family = exact, clip = 0.5): ExampleCandidate => ({
  caption,
  label,
  style,
  exact,
  family,
  clip,
});

describe("chooseExamples", () => {
  const options = { count: 3, minExact: 0.75, perStyle: 2 };

  it("keeps only prompts drawn right often enough, the most reliable first", () => {
    const { chosen, eligible } = chooseExamples(
      [
        c("a, noto", "a", "noto", 0.5),
        c("b, noto", "b", "noto", 1),
        c("d, twemoji", "d", "twemoji", 0.75),
        c("e, fluent", "e", "fluent", 0.875),
      ],
      options,
    );
    expect(eligible).toBe(3);
    expect(chosen.map((x) => x.caption)).toEqual(["b, noto", "e, fluent", "d, twemoji"]);
  });

  it("takes one prompt per label family, skin tones included", () => {
    const { chosen } = chooseExamples(
      [
        c("thumbs up, noto", "thumbs up", "noto", 1),
        c("thumbs up: dark skin tone, twemoji", "thumbs up: dark skin tone", "twemoji", 1),
        c("red heart, twemoji", "red heart", "twemoji", 0.9),
      ],
      options,
    );
    expect(chosen.map((x) => x.label)).toEqual(["thumbs up", "red heart"]);
  });

  it("takes at most perStyle prompts of one style", () => {
    const { chosen } = chooseExamples(
      [c("a, noto", "a", "noto", 1), c("b, noto", "b", "noto", 1), c("d, noto", "d", "noto", 1), c("e, fluent", "e", "fluent", 0.8)],
      options,
    );
    expect(chosen.map((x) => x.caption)).toEqual(["a, noto", "b, noto", "e, fluent"]);
  });

  it("breaks ties by family share, then CLIP's score", () => {
    const { chosen } = chooseExamples(
      [c("a, noto", "a", "noto", 1, 1, 0.4), c("b, fluent", "b", "fluent", 1, 1, 0.6), c("d, twemoji", "d", "twemoji", 1, 0.9, 0.9)],
      { ...options, count: 2 },
    );
    expect(chosen.map((x) => x.caption)).toEqual(["b, fluent", "a, noto"]);
  });

  it("chooses none when nothing qualifies", () => {
    expect(chooseExamples([c("a, noto", "a", "noto", 0.25)], options)).toEqual({ chosen: [], eligible: 0 });
  });
});
