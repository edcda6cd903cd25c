// Hard negatives for the shapes CLIP: every one is a grammatical caption of a scene exactly one attribute (one
// object's colour or shape) away from the scene it is drawn for, never the scene itself, never a held-out pair.
import { describe, expect, it } from "vitest";
import { mulberry32 } from "../../lib/data/rng";
import { formatCaption, parseCaption, sceneObjects, type Scene } from "../../lib/data/shapes/caption";
import { isHeldOut, sampleScene } from "../../lib/data/shapes/render";
import { hardNegativeCaptions, oneAttributeAway } from "./hard-negatives";

/** How many (object, attribute) values differ between two scenes of the same layout. */
function differences(a: Scene, b: Scene): number {
  const oa = sceneObjects(a);
  const ob = sceneObjects(b);
  expect(ob).toHaveLength(oa.length);
  let n = 0;
  oa.forEach((o, i) => {
    if (o.colour !== ob[i].colour) n++;
    if (o.shape !== ob[i].shape) n++;
    expect(ob[i].size).toBe(o.size);
  });
  return n;
}

describe("hard negatives (shapes)", () => {
  it("are captions one colour or shape away from their scene, never held out, both kinds drawn", () => {
    const rand = mulberry32(3);
    let colour = 0;
    let shape = 0;
    for (let i = 0; i < 300; i++) {
      const scene = sampleScene(rand, "exclude");
      const negatives = hardNegativeCaptions(scene, rand, 4);
      expect(negatives).toHaveLength(4);
      for (const caption of negatives) {
        const near = parseCaption(caption); // grammatical, and two objects keep different colours
        expect(caption).not.toBe(formatCaption(scene));
        expect(differences(scene, near)).toBe(1);
        expect(sceneObjects(near).some(isHeldOut)).toBe(false);
        if (sceneObjects(near).some((o, k) => o.colour !== sceneObjects(scene)[k].colour)) colour++;
        else shape++;
      }
    }
    expect(colour).toBeGreaterThan(400);
    expect(shape).toBeGreaterThan(400);
  });

  it("leave out the scenes whose changed object would be a held-out pair", () => {
    // A small red circle: changing its shape to "triangle" would make "red triangle", a held-out pair.
    const scene: Scene = { kind: "one", object: { size: "small", colour: "red", shape: "circle" }, position: "center" };
    const near = oneAttributeAway(scene).map(formatCaption);
    expect(near).toContain("a small red square in the center");
    expect(near).toContain("a small blue circle in the center");
    expect(near).not.toContain("a small red triangle in the center");
    expect(near).not.toContain("a small yellow circle in the center"); // yellow and purple circles are held out too
    expect(near).not.toContain("a small purple circle in the center");
    expect(near).toHaveLength(7 + 4 - 3);
  });
});
