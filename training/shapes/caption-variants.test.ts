// The shapes caption variants name the same scene: swapping the objects inverts the relation, and the attribute
// list keeps each colour with its own shape. Checked by rendering: a variant parsed back must describe the scene.
import { describe, expect, it } from "vitest";
import { mulberry32 } from "../../lib/data/rng";
import { formatCaption, parseCaption, type Scene } from "../../lib/data/shapes/caption";
import { sampleScene } from "../../lib/data/shapes/render";
import { captionVariants, VARIANT_PROBS } from "../gpt/augment";
import { attributeCaption, shapesCaptionVariants, swappedCaption } from "./caption-variants";

const two: Scene = {
  kind: "two",
  a: { size: "small", colour: "red", shape: "circle" },
  relation: "left of",
  b: { size: "large", colour: "blue", shape: "cross" },
};

describe("shapes caption variants", () => {
  it("names a two-object scene from its other object with the inverse relation", () => {
    expect(swappedCaption(two)).toBe("a large blue cross right of a small red circle");
    for (const [r, inv] of [
      ["above", "below"],
      ["below", "above"],
      ["right of", "left of"],
    ] as const)
      expect(parseCaption(swappedCaption({ ...two, relation: r }))).toEqual({ kind: "two", a: two.b, relation: inv, b: two.a });
  });

  it("lists each object's attributes shape first, the colour kept with its own shape", () => {
    expect(attributeCaption(two)).toBe("circle: small, red; left of; cross: large, blue");
    expect(attributeCaption({ kind: "one", object: two.a, position: "center" })).toBe("circle: small, red; center");
  });

  it("is what captionVariants gives a shapes record, one variant per probability, the grammar caption first", () => {
    const rand = mulberry32(5);
    for (let i = 0; i < 50; i++) {
      const scene = sampleScene(rand, "exclude");
      const v = captionVariants({ split: "train", index: i, caption: formatCaption(scene), meta: { scene } });
      expect(v).toEqual(shapesCaptionVariants(scene));
      expect(v).toHaveLength(VARIANT_PROBS.length);
      expect(v[0]).toBe(formatCaption(scene));
      // The swapped caption is still the grammar and describes the same objects.
      const back = parseCaption(v[1]);
      if (scene.kind === "two" && back.kind === "two") expect([back.b, back.a]).toEqual([scene.a, scene.b]);
      else expect(back).toEqual(scene);
    }
  });
});
